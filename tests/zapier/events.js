'use strict';

// Every event a Switchboard subscription can name
// (switchboard_domain::EventType; docs/webhooks.md).
module.exports = [
  'email_updated',
  'customer_created',
  'customer_updated',
  'customer_deleted',
  'conversation_created',
  'conversation_status_changed',
  'conversation_updated',
  'conversation_custom_info_updated',
  'conversation_deleted',
];
