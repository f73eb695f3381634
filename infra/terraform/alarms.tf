# What each alarm means and what to do about it: infra/terraform/README.md, "Alarms".

resource "aws_sns_topic" "alarms" {
  count = var.alarm_email != null && var.alarm_topic_arn == null ? 1 : 0

  name = "${var.name_prefix}-alarms"
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = local.alarm_topic_arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  alarm_topic_arn = var.alarm_topic_arn != null ? var.alarm_topic_arn : one(aws_sns_topic.alarms[*].arn)
  alarm_actions   = local.alarm_topic_arn == null ? [] : [local.alarm_topic_arn]

  # Throttling of each table and of each index (dynamodb.tf), reads and writes. A throttled index write throttles
  # the table write that caused it. The connections-reads alarm is the textbook's "DynamoDB read throttling".
  dynamodb_table_throttle_alarms = {
    "connections-reads" = {
      table  = aws_dynamodb_table.connections.name
      metric = "ReadThrottleEvents"
      impact = "every frame reads its connection's record: sends, subscribes, history and pings fail or slow down"
    }
    "connections-writes" = {
      table  = aws_dynamodb_table.connections.name
      metric = "WriteThrottleEvents"
      impact = "connects and subscribes fail, disconnects leave records for TTL to remove"
    }
    "subscriptions-reads" = {
      table  = aws_dynamodb_table.subscriptions.name
      metric = "ReadThrottleEvents"
      impact = "fan-outs, presence and listMembers fail or slow down"
    }
    "subscriptions-writes" = {
      table  = aws_dynamodb_table.subscriptions.name
      metric = "WriteThrottleEvents"
      impact = "connects and subscribes fail, disconnects leave subscriptions for TTL to remove"
    }
    "messages-reads" = {
      table  = aws_dynamodb_table.messages.name
      metric = "ReadThrottleEvents"
      impact = "history and retried sends fail"
    }
    "messages-writes" = {
      table  = aws_dynamodb_table.messages.name
      metric = "WriteThrottleEvents"
      impact = "messages are refused before delivery"
    }
  }

  dynamodb_index_throttle_alarms = {
    "user_id-index-reads" = {
      index  = "user_id-index"
      metric = "ReadThrottleEvents"
    }
    "user_id-index-writes" = {
      index  = "user_id-index"
      metric = "WriteThrottleEvents"
    }
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# DynamoDB
# ---------------------------------------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "dynamodb_table_throttles" {
  for_each = local.dynamodb_table_throttle_alarms

  alarm_name          = "${var.name_prefix}-dynamodb-${each.key}-throttles"
  alarm_description   = "${each.value.metric} on table ${each.value.table}: ${each.value.impact}."
  namespace           = "AWS/DynamoDB"
  metric_name         = each.value.metric
  dimensions          = { TableName = each.value.table }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "dynamodb_index_throttles" {
  for_each = local.dynamodb_index_throttle_alarms

  alarm_name        = "${var.name_prefix}-dynamodb-${each.key}-throttles"
  alarm_description = "${each.value.metric} on index ${each.value.index} of the connections table: direct messages and connects fail or slow down."
  namespace         = "AWS/DynamoDB"
  metric_name       = each.value.metric
  dimensions = {
    TableName                = aws_dynamodb_table.connections.name
    GlobalSecondaryIndexName = each.value.index
  }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# ---------------------------------------------------------------------------------------------------------------------
# API Gateway
# ---------------------------------------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "connect_count" {
  alarm_name          = "${var.name_prefix}-connect-count"
  alarm_description   = "More connection attempts per minute than expected: a reconnect storm, a load spike or abuse. New connections are limited to 500/s per account and region by default."
  namespace           = "AWS/ApiGateway"
  metric_name         = "ConnectCount"
  dimensions          = { ApiId = aws_apigatewayv2_api.this.id }
  statistic           = "Sum"
  period              = 60
  evaluation_periods  = 1
  threshold           = var.connect_count_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "integration_errors" {
  alarm_name          = "${var.name_prefix}-integration-errors"
  alarm_description   = "API Gateway got errors from the Lambda integrations of the stage (failed or timed-out invocations, error responses)."
  namespace           = "AWS/ApiGateway"
  metric_name         = "IntegrationError"
  dimensions          = { ApiId = aws_apigatewayv2_api.this.id, Stage = aws_apigatewayv2_stage.this.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.integration_error_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# ---------------------------------------------------------------------------------------------------------------------
# Lambda, per function
# ---------------------------------------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each = local.functions

  alarm_name          = "${local.function_names[each.key]}-errors"
  alarm_description   = "The ${local.function_labels[each.key]} function threw or timed out."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "lambda_throttles" {
  for_each = local.functions

  alarm_name          = "${local.function_names[each.key]}-throttles"
  alarm_description   = "Invocations of the ${local.function_labels[each.key]} function were throttled (account or reserved concurrency exhausted)."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.this[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# ---------------------------------------------------------------------------------------------------------------------
# Fan-out tier: shards of big rooms that Lambda gave up on
# ---------------------------------------------------------------------------------------------------------------------

# In ALARM while the failure queue holds a record, so it stays red until someone has looked (and purged the queue).
resource "aws_cloudwatch_metric_alarm" "fanout_failures" {
  alarm_name          = "${var.name_prefix}-fan-out-failures"
  alarm_description   = "A shard of a big room was given up on: its members missed the live message (they read it on their next ping/catch-up). Look at the fan-out worker's log for the record's request id; the record is in queue ${aws_sqs_queue.fanout_failures.name}."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.fanout_failures.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Counts every shard Lambda gave up on, whether or not its record reached the queue: firing without the queue
# alarm means the record was lost too.
resource "aws_cloudwatch_metric_alarm" "fanout_events_dropped" {
  alarm_name          = "${local.function_names["fan-out-worker"]}-events-dropped"
  alarm_description   = "Lambda dropped fan-out worker invocations (retries exhausted, older than the maximum event age, or throttled that long): members of those shards missed the live message and read it on their next ping/catch-up."
  namespace           = "AWS/Lambda"
  metric_name         = "AsyncEventsDropped"
  dimensions          = { FunctionName = aws_lambda_function.this["fan-out-worker"].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# ---------------------------------------------------------------------------------------------------------------------
# roomcast's own metric (Embedded Metric Format, namespace POWERTOOLS_METRICS_NAMESPACE, dimension service)
# ---------------------------------------------------------------------------------------------------------------------

resource "aws_cloudwatch_metric_alarm" "delivery_failures" {
  alarm_name          = "${var.name_prefix}-delivery-failures"
  alarm_description   = "PostToConnection failed for reasons other than 410 Gone (after retries): recipients missed messages."
  namespace           = var.metrics_namespace
  metric_name         = "DeliveriesFailed"
  dimensions          = { service = local.service_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.delivery_failure_alarm_threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
