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
