"""The AWS driver: Auto Scaling groups + launch template versions + ALB weighted target
groups, with the journal in CloudWatch Logs. See ``driver.py`` and docs/aws.md."""
