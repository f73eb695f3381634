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
  description      = each.value.route_key != null ? "roomcast ${each.value.route_key} route" : "roomcast ${each.key}, invoked by other functions"
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
