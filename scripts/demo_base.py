"""Creates (or reuses) the long-lived base stack of the demo in moto with boto3 and prints its
outputs. Used by scripts/demo until `cutover` manages the base stack itself.

usage: demo_base.py TEMPLATE STACK_NAME
"""

import sys
import time

import boto3
import botocore.exceptions


def main(template_path: str, stack_name: str) -> int:
    cloudformation = boto3.client("cloudformation")
    with open(template_path, encoding="utf-8") as template:
        body = template.read()
    try:
        cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=body,
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
            Tags=[{"Key": "cutover:demo", "Value": "base"}],
        )
    except botocore.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "AlreadyExistsException":
            print(f"demo: creating {stack_name} from {template_path} failed: {error}", file=sys.stderr)
            return 1
    deadline = time.monotonic() + 60
    while True:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            break
        if time.monotonic() > deadline:
            print(f"demo: {stack_name} is still {status} after 60 s", file=sys.stderr)
            return 1
        time.sleep(0.5)
    if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        print(f"demo: {stack_name} ended {status}: {stack.get('StackStatusReason', '')}", file=sys.stderr)
        return 1
    print(f"{stack_name}: {status}")
    for output in stack.get("Outputs", []):
        print(f"  {output['OutputKey']} = {output['OutputValue']}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
