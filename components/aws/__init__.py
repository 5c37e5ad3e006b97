"""AWS target: ECR, Secrets Manager, RDS, ECS Fargate behind an ALB (pulumi-aws, no awsx)."""
