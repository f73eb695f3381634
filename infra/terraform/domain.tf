# Optional custom domain (var.custom_domain_name): a regional API Gateway domain with this stage mapped at
# var.custom_domain_base_path, and, with var.custom_domain_route53_zone_id, its alias record. The functions keep
# posting to the execute-api management endpoint (local.management_endpoint), which a custom domain does not change.

resource "aws_apigatewayv2_domain_name" "this" {
  count = var.custom_domain_name == null ? 0 : 1

  domain_name = var.custom_domain_name

  domain_name_configuration {
    certificate_arn = var.custom_domain_certificate_arn
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }

  lifecycle {
    # A regional custom domain takes a certificate of its own region only; CreateDomainName refuses others.
    precondition {
      condition     = split(":", coalesce(var.custom_domain_certificate_arn, "::::"))[3] == data.aws_region.current.region
      error_message = "The custom_domain_certificate_arn must be an ACM certificate in the API's region (${data.aws_region.current.region})."
    }
  }
}

resource "aws_apigatewayv2_api_mapping" "this" {
  count = var.custom_domain_name == null ? 0 : 1

  api_id          = aws_apigatewayv2_api.this.id
  domain_name     = aws_apigatewayv2_domain_name.this[0].id
  stage           = aws_apigatewayv2_stage.this.id
  api_mapping_key = var.custom_domain_base_path
}

resource "aws_route53_record" "custom_domain" {
  count = var.custom_domain_name != null && var.custom_domain_route53_zone_id != null ? 1 : 0

  zone_id = var.custom_domain_route53_zone_id
  name    = aws_apigatewayv2_domain_name.this[0].domain_name
  type    = "A"

  alias {
    name                   = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].target_domain_name
    zone_id                = aws_apigatewayv2_domain_name.this[0].domain_name_configuration[0].hosted_zone_id
    evaluate_target_health = false
  }
}
