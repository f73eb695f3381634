output "websocket_url" {
  description = "Client URL: wss://{api_id}.execute-api.{region}.amazonaws.com/{stage}; add ?token=<JWT>&room_id=<room>."
  value       = aws_apigatewayv2_stage.this.invoke_url
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

output "messages_table_name" {
  description = "Name of the messages table (DYNAMO_TABLE_NAME_CHAT_MESSAGES)."
  value       = aws_dynamodb_table.messages.name
}

output "function_names" {
  description = "Lambda function name by roomcast function (connect, disconnect, default, send-message, ping)."
  value       = { for name, fn in aws_lambda_function.this : name => fn.function_name }
}

output "access_log_group" {
  description = "CloudWatch log group of the stage's access logs."
  value       = aws_cloudwatch_log_group.api_access.name
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify; null when there is none."
  value       = local.alarm_topic_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard with the metrics behind the alarms."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}
