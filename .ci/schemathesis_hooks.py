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


# SuperOffice's ChatSession writes also take XML, and some negative data
# (the schema wants an object) is written as the XML of an object, which
# is valid and rightly accepted:
# - a string of whitespace is written as
#   `<ChatSessionEntity></ChatSessionEntity>` (or with the whitespace
#   inside), the XML of an entity without members (JSON `{}`);
# - an array is written as its items one after another, each as the root
#   element, so an array of one object is the very XML of that object
#   (`[{}]` is `<ChatSessionEntity></ChatSessionEntity>` again).
# XML cannot tell them apart, so such cases are no negative examples and
# are left out. A string with text in it, an empty array (no body) and an
# array of several items or of a non-object (not one entity) stay, and so
# does every JSON case.
def _written_as_an_object(body):
    whitespace = isinstance(body, str) and body.strip() == ""
    one_object = isinstance(body, list) and len(body) == 1 and isinstance(body[0], dict)
    return whitespace or one_object


@schemathesis.hook("filter_case").apply_to(path_regex=r"^/api/v1/ChatSession")
def no_xml_written_as_an_object(ctx, case):
    xml = "xml" in (case.media_type or "")
    return not (xml and _written_as_an_object(case.body))
