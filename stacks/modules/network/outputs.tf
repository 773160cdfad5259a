output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "azs" {
  description = "Availability zones in use, in subnet order."
  value       = local.azs
}

output "public_subnet_ids" {
  description = "Public subnet IDs, one per AZ."
  value       = aws_subnet.public[*].id
}

output "app_subnet_ids" {
  description = "Private app subnet IDs, one per AZ."
  value       = aws_subnet.app[*].id
}

output "app_subnet_cidrs" {
  description = "CIDRs of the app subnets."
  value       = local.app_cidrs
}

output "data_subnet_ids" {
  description = "Isolated data subnet IDs, one per AZ."
  value       = aws_subnet.data[*].id
}

output "nat_gateway_ids" {
  description = "NAT gateway IDs."
  value       = aws_nat_gateway.this[*].id
}

output "transit_gateway_attachment_id" {
  description = "Transit Gateway VPC attachment ID, or null."
  value       = local.tgw ? aws_ec2_transit_gateway_vpc_attachment.this[0].id : null
}

output "endpoints_security_group_id" {
  description = "Security group of the interface VPC endpoints."
  value       = aws_security_group.endpoints.id
}

output "flow_log_group_name" {
  description = "CloudWatch log group receiving VPC flow logs."
  value       = aws_cloudwatch_log_group.flow_logs.name
}
