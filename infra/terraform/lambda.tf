# The esbuild bundles of `npm run build`: dist/<function name>/index.mjs, exporting `handler`.
data "archive_file" "function" {
  for_each = local.functions

  type        = "zip"
  source_dir  = "${path.module}/../../dist/${each.key}"
  output_path = "${path.module}/.build/${each.key}.zip"
  # The runtime never reads the source map (no --enable-source-maps), so it stays in dist/ and out of the upload.
  excludes = ["index.mjs.map"]
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
  description      = "roomcast ${each.value.route_key} route"
  role             = aws_iam_role.function[each.key].arn
  runtime          = "nodejs22.x"
  architectures    = ["arm64"]
  handler          = "index.handler"
  filename         = data.archive_file.function[each.key].output_path
  source_code_hash = data.archive_file.function[each.key].output_base64sha256
  memory_size      = local.function_memory_mb[each.key]
  timeout          = local.function_timeout_seconds[each.key]

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
