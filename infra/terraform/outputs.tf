output "websocket_url" {
  description = "Client URL: wss://{custom_domain_name}[/{custom_domain_base_path}] with a custom domain, else wss://{api_id}.execute-api.{region}.amazonaws.com/{stage}; add ?token=<JWT>, and &room_id=<room> to hold a first room from the start (more come with subscribe)."
  value = (
    var.custom_domain_name == null ? aws_apigatewayv2_stage.this.invoke_url :
    var.custom_domain_base_path == null ? "wss://${var.custom_domain_name}" : "wss://${var.custom_domain_name}/${var.custom_domain_base_path}"
  )
}

output "execute_api_url" {
  description = "The stage's own URL, wss://{api_id}.execute-api.{region}.amazonaws.com/{stage}, which works with or without a custom domain."
  value       = aws_apigatewayv2_stage.this.invoke_url
}

output "custom_domain_target" {
  description = "With a custom domain: the regional API Gateway host and hosted zone its DNS record must point at (CNAME, or a Route 53 alias). Null without one."
  value = var.custom_domain_name == null ? null : {
    target_domain_name = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].target_domain_name
    hosted_zone_id     = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].hosted_zone_id
  }
}

output "management_endpoint" {
  description = "The @connections management API of the stage: https://{api_id}.execute-api.{region}.amazonaws.com/{stage}."
  value       = local.management_endpoint
}

output "api_id" {
  description = "ID of the WebSocket API (the ApiId dimension of its metrics)."
  value       = aws_apigatewayv2_api.this.id
}

output "connections_table_name" {
  description = "Name of the connections table (DYNAMO_TABLE_NAME_CHAT_CONNECTIONS)."
  value       = aws_dynamodb_table.connections.name
}

output "subscriptions_table_name" {
  description = "Name of the subscriptions table (DYNAMO_TABLE_NAME_CHAT_SUBSCRIPTIONS)."
  value       = aws_dynamodb_table.subscriptions.name
}

output "messages_table_name" {
  description = "Name of the messages table (DYNAMO_TABLE_NAME_CHAT_MESSAGES)."
  value       = aws_dynamodb_table.messages.name
}

output "revocations_table_name" {
  description = "Name of the revocations table (DYNAMO_TABLE_NAME_CHAT_REVOCATIONS)."
  value       = aws_dynamodb_table.revocations.name
}

output "function_names" {
  description = "Lambda function name by roomcast function (connect, disconnect, default, subscribe, unsubscribe, send-message, send-direct, get-history, list-members, ping, fan-out-worker, admin)."
  value       = { for name, fn in aws_lambda_function.this : name => fn.function_name }
}

output "access_log_group" {
  description = "CloudWatch log group of the stage's access logs; null while access_logs_enabled is false."
  value       = one(aws_cloudwatch_log_group.api_access[*].name)
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify; null when there is none."
  value       = local.alarm_topic_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard with the metrics behind the alarms."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "fanout_failure_queue_url" {
  description = "SQS queue of the fan-out shards Lambda gave up on (the fan-out-failures alarm watches it): read a record to see which room, message and connections missed their live delivery, then purge it."
  value       = aws_sqs_queue.fanout_failures.url
}

output "admin_function_name" {
  description = "The admin function, which roomcast publish and roomcast revoke invoke: ROOMCAST_ADMIN_FUNCTION=$(terraform output -raw admin_function_name) npx roomcast publish --room lobby \"hello\" (with credentials that have operator_policy_arn)."
  value       = aws_lambda_function.this["admin"].function_name
}

output "admin_function_arn" {
  description = "ARN of the admin function: the only resource operator_policy_arn allows lambda:InvokeFunction on."
  value       = aws_lambda_function.this["admin"].arn
}

output "operator_policy_arn" {
  description = "IAM policy that allows invoking the admin function and nothing else, attached to nothing: attach it to the role or user of each operator, e.g. aws iam attach-role-policy --role-name <role> --policy-arn $(terraform output -raw operator_policy_arn)."
  value       = aws_iam_policy.operator.arn
}
