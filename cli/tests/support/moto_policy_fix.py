"""moto_server for the tests that apply the real bootstrap stack, with one gap of moto's
bucket-policy evaluation closed.

moto gives a bucket policy's Condition none of the request's context keys (aws:PrincipalArn,
aws:SecureTransport, s3:TlsVersion, s3:x-amz-server-side-encryption...), so it cannot tell
whether a conditional statement applies, and it answers 403 to every object request that such
a statement names: the state bucket's `Deny unless aws:PrincipalArn is a trusted role` then
locks out the trusted role itself. Here a statement whose Condition needs a key moto did not
supply is left out of the evaluation (moto cannot judge it; AWS always supplies these keys).
Statements without conditions, and conditions on keys moto does supply, are evaluated as
before; nothing else of moto changes.
"""
import sys

from moto.iam import access_control as ac
from moto.iam.policy_conditions import TrustRelationShipConditions

_original = ac.IAMPolicyStatement.is_action_permitted


def _needs_unknown_keys(statement, known):
    conditions = statement.get("Condition")
    if not conditions:
        return False
    for condition in TrustRelationShipConditions(conditions):
        for key in condition.context_keys:
            if not known or key not in known:
                return True
    return False


def _is_action_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
    if _needs_unknown_keys(self._statement, incoming_condition_values):
        return ac.PermissionResult.NEUTRAL
    return _original(self, action, resource, principal, incoming_condition_values)


ac.IAMPolicyStatement.is_action_permitted = _is_action_permitted

from moto.server import main  # noqa: E402

main(sys.argv[1:])
