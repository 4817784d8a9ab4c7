"""Schemathesis hooks for .ci/contract (docs/contract.md).

HelpCrunch's `customData` names a custom attribute, and the attributes are
the tenant's own (`switchboard attribute create`): the same schema-valid
member is right for one tenant and a `400` for another, which no JSON Schema
can say. The contract run's tenant has no attributes, so a generated body
whose `customData` names one (a non-empty object, or an array with items)
is left out of the customer writes. Everything else in those bodies is
checked, positive data acceptance included, and so is `customData` of the
wrong type (negative data).
"""

import schemathesis

CUSTOMER_WRITES = r"^/v1/customers(/\{id\}|/batch)?$"


def _names_attributes(member):
    return (isinstance(member, dict) and len(member) > 0) or (
        isinstance(member, list) and len(member) > 0
    )


def _names_in(body):
    if isinstance(body, dict):
        return _names_attributes(body.get("customData"))
    if isinstance(body, list):
        return any(_names_in(item) for item in body)
    return False


@schemathesis.hook("filter_body").apply_to(path_regex=CUSTOMER_WRITES)
def no_tenant_attributes(ctx, body):
    return not _names_in(body)


# SuperOffice's ChatSession writes also take XML. A body generated as a
# string of whitespace (negative data: the schema wants an object) is
# written as `<ChatSessionEntity></ChatSessionEntity>` (or with the
# whitespace inside), which is the XML of an entity without members (JSON
# `{}`): valid, and rightly accepted. XML cannot tell the two apart, so
# such a case is no negative example and is left out. A string with text
# in it stays (the server refuses a root holding text), and so does every
# JSON case.
@schemathesis.hook("filter_case").apply_to(path_regex=r"^/api/v1/ChatSession")
def no_empty_xml_string(ctx, case):
    xml = "xml" in (case.media_type or "")
    return not (xml and isinstance(case.body, str) and case.body.strip() == "")
