"""Infrastructure as code: the AWS resources of the `aws` profile as one CloudFormation stack."""
