"""CloudFormation custom resources for Amazon SES v2 sending resources."""
