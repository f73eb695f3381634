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
    "revocations-reads" = {
      table  = aws_dynamodb_table.revocations.name
      metric = "ReadThrottleEvents"
      impact = "connects fail: $connect reads the token's revocations"
    }
    "revocations-writes" = {
      table  = aws_dynamodb_table.revocations.name
      metric = "WriteThrottleEvents"
      impact = "roomcast revoke fails"
    }
  }

  # What an error of a function means beyond "it threw or timed out", where there is more to say.
  lambda_error_notes = {
    admin = " A roomcast publish or revoke failed, and the operator who ran it got the error: a revoke may have written the revocation (new connects are refused) without closing every open connection, so run it again once the cause is fixed. Or a run of the connections gauge failed: the connection-stats-missing alarm follows if it keeps failing."
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
  alarm_description   = "The ${local.function_labels[each.key]} function threw or timed out.${lookup(local.lambda_error_notes, each.key, "")}"
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

# ---------------------------------------------------------------------------------------------------------------------
# The connections gauge (lambda.tf): live connections counted every minute, ActiveConnections (Maximum of a minute)
# ---------------------------------------------------------------------------------------------------------------------

# The share of the live connections lost since the previous reading: prev = m1 - DIFF(m1) is the previous reading
# (DIFF: each value minus the one before it), -DIFF(m1) / prev the share lost, 0 for a rise or while the previous
# reading had fewer than connections_drop_alarm_min_connections (IF, per data point). A reading missing (the gauge
# late or stopped) is not a drop: the connection-stats-missing alarm covers that.
resource "aws_cloudwatch_metric_alarm" "connections_drop" {
  count = var.connection_stats_enabled ? 1 : 0

  alarm_name          = "${var.name_prefix}-connections-drop"
  alarm_description   = "At least ${var.connections_drop_alarm_fraction * 100} % of the live connections were lost since the previous reading of the connections gauge (ActiveConnections, with at least ${var.connections_drop_alarm_min_connections} before). Without a deploy of the clients: an outage of API Gateway or of the network between the clients and it, or a mass disconnect. Compare with the integration-errors alarm, ConnectCount and ConnectionsRefused."
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.connections_drop_alarm_fraction
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "m1"
    label       = "Live connections"
    return_data = false

    metric {
      namespace   = var.metrics_namespace
      metric_name = "ActiveConnections"
      dimensions  = { service = local.service_name }
      stat        = "Maximum"
      period      = 60
    }
  }

  metric_query {
    id          = "prev"
    expression  = "m1 - DIFF(m1)"
    label       = "Live connections at the previous reading"
    return_data = false
  }

  metric_query {
    id          = "drop"
    expression  = "IF(prev >= ${var.connections_drop_alarm_min_connections}, -DIFF(m1) / prev, 0)"
    label       = "Share of the live connections lost since the previous reading"
    return_data = true
  }
}

# The gauge itself stopped: no reading at all (a reading of 0 connections is one) for connection_stats_missing_minutes.
resource "aws_cloudwatch_metric_alarm" "connection_stats_missing" {
  count = var.connection_stats_enabled ? 1 : 0

  alarm_name          = "${var.name_prefix}-connection-stats-missing"
  alarm_description   = "The connections gauge published no ActiveConnections for ${local.connection_stats_missing_minutes} minutes: its schedule (${var.name_prefix}-connection-stats) is disabled or gone, or the admin function fails, is throttled or cannot be invoked. The connections-drop alarm is blind meanwhile."
  namespace           = var.metrics_namespace
  metric_name         = "ActiveConnections"
  dimensions          = { service = local.service_name }
  statistic           = "SampleCount"
  period              = 60
  evaluation_periods  = local.connection_stats_missing_minutes
  datapoints_to_alarm = local.connection_stats_missing_minutes
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
