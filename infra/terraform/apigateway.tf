resource "aws_apigatewayv2_api" "this" {
  name                       = "${var.name_prefix}-websocket"
  description                = "roomcast chat: WebSocket routes served by Lambda"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"

  lifecycle {
    # Checked here, once, because cross-variable validation needs Terraform 1.9: without exactly one token source
    # the $connect function refuses every connection.
    precondition {
      condition     = length(local.jwt_sources) == 1
      error_message = "Set exactly one of jwt_secret, jwt_secret_ssm_parameter or jwt_jwks_url."
    }

    precondition {
      condition     = (var.custom_domain_name == null) == (var.custom_domain_certificate_arn == null)
      error_message = "Set custom_domain_name and custom_domain_certificate_arn together, or neither."
    }

    precondition {
      condition     = var.custom_domain_name != null || (var.custom_domain_base_path == null && var.custom_domain_route53_zone_id == null)
      error_message = "custom_domain_base_path and custom_domain_route53_zone_id need custom_domain_name."
    }

    # HS* verify a shared secret, the others a JWKS key; src/config.ts refuses any other pairing at every cold start.
    precondition {
      condition     = var.jwt_algorithms == null || alltrue([for alg in coalesce(var.jwt_algorithms, []) : startswith(alg, "HS") == (var.jwt_jwks_url == null)])
      error_message = "The jwt_algorithms must be HS256/HS384/HS512 with jwt_secret or jwt_secret_ssm_parameter, and asymmetric ones (RS*, PS*, ES*, EdDSA) with jwt_jwks_url."
    }
  }
}

# One integration and one route per function that serves a route (local.routed_functions). $connect verifies the
# token itself, so no route uses an API Gateway authorizer.
resource "aws_apigatewayv2_integration" "this" {
  for_each = local.routed_functions

  api_id             = aws_apigatewayv2_api.this.id
  description        = "${each.value.route_key} -> ${local.function_names[each.key]}"
  integration_type   = "AWS_PROXY"
  integration_method = "POST"
  integration_uri    = aws_lambda_function.this[each.key].invoke_arn
}

resource "aws_apigatewayv2_route" "this" {
  for_each = local.routed_functions

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.value.route_key
  authorization_type = "NONE"
  target             = "integrations/${aws_apigatewayv2_integration.this[each.key].id}"
}

# API Gateway may invoke each function for its own route only.
resource "aws_lambda_permission" "api_gateway" {
  for_each = local.routed_functions

  statement_id  = "AllowApiGatewayRoute"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.key].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/${each.value.route_key}"
}

resource "aws_apigatewayv2_stage" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = var.stage_name
  description = "roomcast ${var.stage_name}"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit   = var.throttling_burst_limit
    throttling_rate_limit    = var.throttling_rate_limit
    logging_level            = var.execution_logging_level
    data_trace_enabled       = false
    detailed_metrics_enabled = var.detailed_metrics_enabled
  }

  # One JSON line per connect, message and disconnect (local.access_log_format), when access logs are on.
  dynamic "access_log_settings" {
    for_each = var.access_logs_enabled ? [aws_cloudwatch_log_group.api_access[0].arn] : []

    content {
      destination_arn = access_log_settings.value
      format          = local.access_log_format
    }
  }

  # Auto-deploy picks up route changes; waiting for the routes makes the first deployment complete. Logging settings
  # need the account's CloudWatch role first when this configuration sets it, and the execution log group must exist
  # before API Gateway writes to it (else API Gateway creates it, without a retention, and this one fails).
  depends_on = [
    aws_apigatewayv2_route.this,
    aws_api_gateway_account.this,
    aws_cloudwatch_log_group.api_execution,
  ]
}

resource "aws_cloudwatch_log_group" "api_access" {
  count = var.access_logs_enabled ? 1 : 0

  name              = "/aws/apigateway/${var.name_prefix}-websocket/${var.stage_name}/access"
  retention_in_days = var.log_retention_days
}

# API Gateway writes execution logs to this group; creating it first gives it a retention.
resource "aws_cloudwatch_log_group" "api_execution" {
  count = var.execution_logging_level == "OFF" ? 0 : 1

  name              = "API-Gateway-Execution-Logs_${aws_apigatewayv2_api.this.id}/${var.stage_name}"
  retention_in_days = var.log_retention_days
}

# ---------------------------------------------------------------------------------------------------------------------
# Account-level CloudWatch role of API Gateway (REST and WebSocket logging need it; one per account and region).
# Only when manage_api_gateway_account is true: see the README.
# ---------------------------------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "api_gateway_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "api_gateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  name               = "${var.name_prefix}-apigateway-cloudwatch"
  assume_role_policy = data.aws_iam_policy_document.api_gateway_assume.json
}

resource "aws_iam_role_policy_attachment" "api_gateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  role       = aws_iam_role.api_gateway_cloudwatch[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_api_gateway_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.api_gateway_cloudwatch[0].arn

  depends_on = [aws_iam_role_policy_attachment.api_gateway_cloudwatch]
}
