# The esbuild bundles of `npm run build`: dist/<function name>/index.mjs, exporting `handler`, and the chunks it
# imports (chunk-<hash>.mjs), all zipped.
data "archive_file" "function" {
  for_each = local.functions

  type        = "zip"
  source_dir  = "${path.module}/../../dist/${each.key}"
  output_path = "${path.module}/.build/${each.key}.zip"
  # The runtime never reads the source maps (no --enable-source-maps), so they stay in dist/ and out of the upload.
  excludes = ["**/*.map"]
}

# Created here, not by Lambda on first use, so that it has a retention and each role can be limited to it.
resource "aws_cloudwatch_log_group" "function" {
  for_each = local.functions

  name              = "/aws/lambda/${local.function_names[each.key]}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "this" {
  for_each = local.functions

  function_name    = local.function_names[each.key]
  description      = each.value.route_key != null ? "roomcast ${each.value.route_key} route" : "roomcast ${each.key}, invoked by ${each.value.invoked_by}"
  role             = aws_iam_role.function[each.key].arn
  runtime          = "nodejs22.x"
  architectures    = ["arm64"]
  handler          = "index.handler"
  filename         = data.archive_file.function[each.key].output_path
  source_code_hash = data.archive_file.function[each.key].output_base64sha256
  memory_size      = local.function_memory_mb[each.key]
  timeout          = local.function_timeout_seconds[each.key]

  reserved_concurrent_executions = lookup(local.function_reserved_concurrency, each.key, null)

  environment {
    # The secret is merged in last, unfiltered: filtering a map that holds a sensitive value would mark the whole
    # environment sensitive and hide every change to it in plans.
    variables = merge(
      { for name, value in merge(local.common_env, each.value.env) : name => tostring(value) if value != null },
      lookup(local.function_secret_env, each.key, {}),
    )
  }

  # Plain text: Powertools already writes JSON lines, and metrics are Embedded Metric Format lines that CloudWatch
  # only extracts from unwrapped log events.
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  # The role must be able to write logs before the first invocation.
  depends_on = [aws_iam_role_policy.function]
}

# ---------------------------------------------------------------------------------------------------------------------
# The fan-out worker's asynchronous invocations (README, "Fan-out tier")
# ---------------------------------------------------------------------------------------------------------------------

# Shards Lambda gave up on (retries exhausted, or too old): one record each, with the shard's task, the error and the
# request id of its last attempt. Nothing reads it; it is there to be looked at when its alarm fires.
resource "aws_sqs_queue" "fanout_failures" {
  name = "${var.name_prefix}-fan-out-failures"
  # The records carry the message's text: kept as long as history keeps messages, and SQS keeps at most 14 days.
  message_retention_seconds = min(var.message_retention_days * 86400, 1209600)
  sqs_managed_sse_enabled   = true
}

resource "aws_lambda_function_event_invoke_config" "fanout_worker" {
  function_name                = aws_lambda_function.this["fan-out-worker"].function_name
  maximum_retry_attempts       = var.fanout_worker_retry_attempts
  maximum_event_age_in_seconds = var.fanout_worker_max_event_age_seconds

  # Lambda sends the record with the worker's execution role (its SendGivenUpShard statement).
  destination_config {
    on_failure {
      destination = aws_sqs_queue.fanout_failures.arn
    }
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# The connections gauge: the admin function's stats on a schedule, published as metrics (README, "Connections gauge")
# ---------------------------------------------------------------------------------------------------------------------

locals {
  # What the schedule asks the admin function (src/admin.ts, StatsRequest): count, and publish the counts as metrics.
  connection_stats_request = { op = "stats", publish_metrics = true }

  # A rate's interval in minutes (null for a cron expression): the connection-stats-missing alarm waits twice that,
  # at least 5 minutes (the variable's validation keeps it within CloudWatch's day of evaluation).
  connection_stats_rate = try(regex("^rate\\((?P<value>[0-9]+) (?P<unit>minute|hour|day)s?\\)$", var.connection_stats_schedule), null)
  connection_stats_interval_minutes = local.connection_stats_rate == null ? null : (
    tonumber(local.connection_stats_rate.value) * { minute = 1, hour = 60, day = 1440 }[local.connection_stats_rate.unit]
  )
  connection_stats_missing_minutes = max(5, 2 * coalesce(local.connection_stats_interval_minutes, 0))
}

resource "aws_cloudwatch_event_rule" "connection_stats" {
  count = var.connection_stats_enabled ? 1 : 0

  name                = "${var.name_prefix}-connection-stats"
  description         = "roomcast connections gauge: runs the admin function's stats (${var.connection_stats_schedule}), which publishes ActiveConnections, ActiveRooms, LargestRoomConnections and RoomConnections"
  schedule_expression = var.connection_stats_schedule
  # Set, so that an apply turns a rule disabled by hand on again (the connection-stats-missing alarm says it was off).
  state = "ENABLED"
}

resource "aws_cloudwatch_event_target" "connection_stats" {
  count = var.connection_stats_enabled ? 1 : 0

  rule      = aws_cloudwatch_event_rule.connection_stats[0].name
  target_id = "admin-stats"
  arn       = aws_lambda_function.this["admin"].arn
  input     = jsonencode(local.connection_stats_request)

  # A reading is worth nothing a minute late, and the next one is a minute away: EventBridge does not retry.
  retry_policy {
    maximum_event_age_in_seconds = 60
    maximum_retry_attempts       = 0
  }
}

# EventBridge may invoke the admin function from this rule only; operators go through IAM (aws_iam_policy.operator).
resource "aws_lambda_permission" "connection_stats" {
  count = var.connection_stats_enabled ? 1 : 0

  statement_id  = "AllowConnectionStatsSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["admin"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.connection_stats[0].arn
}

# EventBridge invokes asynchronously; operators invoke synchronously, which this does not touch. Lambda would retry a
# failed run twice and keep a throttled one for 6 hours: a late or repeated reading only costs its Scans again.
resource "aws_lambda_function_event_invoke_config" "admin" {
  count = var.connection_stats_enabled ? 1 : 0

  function_name                = aws_lambda_function.this["admin"].function_name
  maximum_retry_attempts       = 0
  maximum_event_age_in_seconds = 60
}
