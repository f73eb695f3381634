# One role per function, allowed exactly what that function does (local.functions[*].statements) plus writing to
# its own log group. No managed policies: AWSLambdaBasicExecutionRole would also allow logs:CreateLogGroup anywhere.

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each = local.functions

  name               = local.function_names[each.key]
  description        = "roomcast ${local.function_labels[each.key]} function"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "function" {
  for_each = local.functions

  # Log streams and events of its own log group only; the group itself is created by Terraform.
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }

  dynamic "statement" {
    for_each = each.value.statements

    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }

  # Closing a connection that keeps sending past its limits (src/route.ts `admitted`); no function inspects or
  # closes any other connection.
  dynamic "statement" {
    for_each = contains(local.frame_functions, each.key) ? [local.delete_connection_arn] : []

    content {
      sid       = "CloseAbusiveConnection"
      actions   = ["execute-api:ManageConnections"]
      resources = [statement.value]
    }
  }

  # With a customer managed table key: the key, only through DynamoDB in this region (local.table_key_actions).
  dynamic "statement" {
    for_each = var.table_kms_key_arn != null && length(local.table_key_actions[each.key]) > 0 ? [local.table_key_actions[each.key]] : []

    content {
      sid       = "UseTableKey"
      actions   = statement.value
      resources = [var.table_kms_key_arn]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["dynamodb.${data.aws_region.current.region}.${data.aws_partition.current.dns_suffix}"]
      }
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions

  name   = "least-privilege"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.function[each.key].json
}

# ---------------------------------------------------------------------------------------------------------------------
# Operators: `roomcast publish` and `roomcast revoke` invoke the admin function with their own IAM credentials
# ---------------------------------------------------------------------------------------------------------------------

# Invoking the admin function, and nothing else. Attached to nothing here: grant it to the roles or users of the
# people and systems that operate roomcast (README, "Admin function"). The function's own role does the work.
data "aws_iam_policy_document" "operator" {
  statement {
    sid       = "InvokeAdminFunction"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this["admin"].arn]
  }
}

resource "aws_iam_policy" "operator" {
  name        = "${var.name_prefix}-operator"
  description = "roomcast operators: invoke the ${aws_lambda_function.this["admin"].function_name} function (roomcast publish, roomcast revoke)"
  policy      = data.aws_iam_policy_document.operator.json
}
