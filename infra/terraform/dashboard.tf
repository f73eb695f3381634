# The metrics behind the alarms (alarms.tf), plus the traffic that explains them.

locals {
  # RoomConnections of every room the gauge published (the biggest few each minute), one line per room: a search of
  # the metrics with exactly the dimensions room_id and service. A namespace of anything but letters and digits is
  # quoted in the schema (CloudWatch's search syntax); metrics_namespace allows no quote.
  room_connections_search = format(
    "SEARCH('{%s,room_id,service} MetricName=\"RoomConnections\"', 'Maximum', 60)",
    can(regex("^[A-Za-z0-9]+$", var.metrics_namespace)) ? var.metrics_namespace : "\"${var.metrics_namespace}\"",
  )

  # The row "Who is connected", from the connections gauge (lambda.tf), while it runs (a for with a condition: the
  # widgets differ in type, so a conditional between them and [] would not type-check).
  who_is_connected_widgets = [for widget in [
    {
      type   = "metric"
      x      = 0
      y      = 36
      width  = 8
      height = 6
      properties = {
        title  = "Who is connected: live connections (ActiveConnections)"
        region = data.aws_region.current.region
        stat   = "Maximum"
        period = 60
        metrics = [
          [var.metrics_namespace, "ActiveConnections", "service", local.service_name],
        ]
      }
    },
    {
      type   = "metric"
      x      = 8
      y      = 36
      width  = 8
      height = 6
      properties = {
        title  = "Who is connected: rooms with a connection, and the biggest room's connections"
        region = data.aws_region.current.region
        stat   = "Maximum"
        period = 60
        metrics = [
          for metric in ["ActiveRooms", "LargestRoomConnections"] :
          [var.metrics_namespace, metric, "service", local.service_name]
        ]
      }
    },
    {
      type   = "metric"
      x      = 16
      y      = 36
      width  = 8
      height = 6
      properties = {
        title  = "Who is connected: connections of the biggest rooms (RoomConnections by room_id)"
        region = data.aws_region.current.region
        stat   = "Maximum"
        period = 60
        metrics = [
          [{ id = "rooms", expression = local.room_connections_search, label = "$${PROP('Dim.room_id')}", period = 60 }],
        ]
      }
    },
  ] : widget if var.connection_stats_enabled]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name_prefix

  dashboard_body = jsonencode({
    widgets = concat([
      {
        type   = "metric"
        x      = 0
        y      = 0
        width  = 12
        height = 6
        properties = {
          title  = "API Gateway: connections and messages"
          region = data.aws_region.current.region
          stat   = "Sum"
          period = 60
          metrics = [
            ["AWS/ApiGateway", "ConnectCount", "ApiId", aws_apigatewayv2_api.this.id],
            ["AWS/ApiGateway", "MessageCount", "ApiId", aws_apigatewayv2_api.this.id],
          ]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 0
        width  = 12
        height = 6
        properties = {
          title  = "API Gateway: errors (stage ${aws_apigatewayv2_stage.this.name})"
          region = data.aws_region.current.region
          stat   = "Sum"
          period = 300
          metrics = [
            ["AWS/ApiGateway", "IntegrationError", "ApiId", aws_apigatewayv2_api.this.id, "Stage", aws_apigatewayv2_stage.this.name],
            ["AWS/ApiGateway", "ExecutionError", "ApiId", aws_apigatewayv2_api.this.id, "Stage", aws_apigatewayv2_stage.this.name],
            ["AWS/ApiGateway", "ClientError", "ApiId", aws_apigatewayv2_api.this.id, "Stage", aws_apigatewayv2_stage.this.name],
          ]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 6
        width  = 8
        height = 6
        properties = {
          title   = "Lambda: errors"
          region  = data.aws_region.current.region
          stat    = "Sum"
          period  = 300
          metrics = [for name in keys(local.functions) : ["AWS/Lambda", "Errors", "FunctionName", aws_lambda_function.this[name].function_name]]
        }
      },
      {
        type   = "metric"
        x      = 8
        y      = 6
        width  = 8
        height = 6
        properties = {
          title   = "Lambda: throttles"
          region  = data.aws_region.current.region
          stat    = "Sum"
          period  = 300
          metrics = [for name in keys(local.functions) : ["AWS/Lambda", "Throttles", "FunctionName", aws_lambda_function.this[name].function_name]]
        }
      },
      {
        type   = "metric"
        x      = 16
        y      = 6
        width  = 8
        height = 6
        properties = {
          title   = "Lambda: duration p99 (ms)"
          region  = data.aws_region.current.region
          stat    = "p99"
          period  = 300
          metrics = [for name in keys(local.functions) : ["AWS/Lambda", "Duration", "FunctionName", aws_lambda_function.this[name].function_name]]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 12
        width  = 8
        height = 6
        properties = {
          title  = "DynamoDB: consumed capacity"
          region = data.aws_region.current.region
          stat   = "Sum"
          period = 300
          metrics = [
            ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", aws_dynamodb_table.connections.name],
            ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", aws_dynamodb_table.connections.name],
            ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", aws_dynamodb_table.subscriptions.name],
            ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", aws_dynamodb_table.subscriptions.name],
            ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", aws_dynamodb_table.messages.name],
            ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", aws_dynamodb_table.messages.name],
            ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", aws_dynamodb_table.revocations.name],
            ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", aws_dynamodb_table.revocations.name],
          ]
        }
      },
      {
        type   = "metric"
        x      = 8
        y      = 12
        width  = 8
        height = 6
        properties = {
          title  = "DynamoDB: throttles (table and indexes)"
          region = data.aws_region.current.region
          stat   = "Sum"
          period = 300
          metrics = concat(
            [
              for alarm in values(local.dynamodb_table_throttle_alarms) :
              ["AWS/DynamoDB", alarm.metric, "TableName", alarm.table]
            ],
            [
              for alarm in values(local.dynamodb_index_throttle_alarms) :
              ["AWS/DynamoDB", alarm.metric, "TableName", aws_dynamodb_table.connections.name, "GlobalSecondaryIndexName", alarm.index]
            ],
          )
        }
      },
      {
        type   = "metric"
        x      = 16
        y      = 12
        width  = 8
        height = 6
        properties = {
          title  = "roomcast: connections"
          region = data.aws_region.current.region
          stat   = "Sum"
          period = 300
          metrics = [
            for metric in ["ConnectionsOpened", "ConnectionsRefused", "ConnectionsClosed"] :
            [var.metrics_namespace, metric, "service", local.service_name]
          ]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 18
        width  = 12
        height = 6
        properties = {
          title  = "roomcast: messages and deliveries"
          region = data.aws_region.current.region
          stat   = "Sum"
          period = 300
          metrics = [
            for metric in ["MessagesReceived", "FramesRejected", "FramesRateLimited", "RepliesDropped", "DeliveriesSucceeded", "DeliveriesFailed", "DeliveriesTimedOut", "StaleConnectionsPruned"] :
            [var.metrics_namespace, metric, "service", local.service_name]
          ]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 18
        width  = 12
        height = 6
        properties = {
          title  = "roomcast: fan-out duration (ms)"
          region = data.aws_region.current.region
          period = 300
          metrics = [
            [var.metrics_namespace, "FanOutDuration", "service", local.service_name, { stat = "p50" }],
            [var.metrics_namespace, "FanOutDuration", "service", local.service_name, { stat = "p99" }],
          ]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 24
        width  = 6
        height = 6
        properties = {
          title  = "Fan-out worker: invocations"
          region = data.aws_region.current.region
          stat   = "Sum"
          period = 60
          metrics = [
            for metric in ["Invocations", "Errors", "Throttles", "AsyncEventsDropped"] :
            ["AWS/Lambda", metric, "FunctionName", aws_lambda_function.this["fan-out-worker"].function_name]
          ]
        }
      },
      {
        type   = "metric"
        x      = 6
        y      = 24
        width  = 6
        height = 6
        properties = {
          title  = "Fan-out worker: duration, time queued, a shard's posts, p99 (ms)"
          region = data.aws_region.current.region
          stat   = "p99"
          period = 60
          metrics = [
            ["AWS/Lambda", "Duration", "FunctionName", aws_lambda_function.this["fan-out-worker"].function_name],
            ["AWS/Lambda", "AsyncEventAge", "FunctionName", aws_lambda_function.this["fan-out-worker"].function_name],
            [var.metrics_namespace, "FanOutQueueDelay", "service", local.service_name],
            [var.metrics_namespace, "FanOutShardDuration", "service", local.service_name],
          ]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 24
        width  = 6
        height = 6
        properties = {
          title  = "roomcast: fan-out tier"
          region = data.aws_region.current.region
          stat   = "Sum"
          period = 60
          metrics = [
            for metric in ["FanOutShards", "FanOutDispatchFailures", "FanOutShardRetries"] :
            [var.metrics_namespace, metric, "service", local.service_name]
          ]
        }
      },
      {
        type   = "metric"
        x      = 18
        y      = 24
        width  = 6
        height = 6
        properties = {
          title  = "Fan-out failure queue: shards given up on"
          region = data.aws_region.current.region
          stat   = "Maximum"
          period = 300
          metrics = [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.fanout_failures.name],
          ]
        }
      },
      # The operators' function: each invocation is one roomcast publish, revoke or stats, or a run of the gauge.
      {
        type   = "metric"
        x      = 0
        y      = 30
        width  = 8
        height = 6
        properties = {
          title  = "Admin function (roomcast publish, revoke, stats, and the gauge's runs): invocations and errors"
          region = data.aws_region.current.region
          stat   = "Sum"
          period = 300
          metrics = [
            for metric in ["Invocations", "Errors", "Throttles"] :
            ["AWS/Lambda", metric, "FunctionName", aws_lambda_function.this["admin"].function_name]
          ]
        }
      },
      {
        type   = "metric"
        x      = 8
        y      = 30
        width  = 8
        height = 6
        properties = {
          title  = "Admin function: duration (ms)"
          region = data.aws_region.current.region
          period = 300
          metrics = [
            ["AWS/Lambda", "Duration", "FunctionName", aws_lambda_function.this["admin"].function_name, { stat = "p50" }],
            ["AWS/Lambda", "Duration", "FunctionName", aws_lambda_function.this["admin"].function_name, { stat = "Maximum" }],
          ]
        }
      },
      {
        type   = "metric"
        x      = 16
        y      = 30
        width  = 8
        height = 6
        properties = {
          title  = "roomcast: operations (published, revoked, connections closed)"
          region = data.aws_region.current.region
          stat   = "Sum"
          period = 300
          metrics = [
            for metric in ["MessagesPublished", "TokensRevoked", "ConnectionsRevoked"] :
            [var.metrics_namespace, metric, "service", local.service_name]
          ]
        }
      },
      ],
      # Who is connected (the connections gauge), then every alarm.
      local.who_is_connected_widgets,
      [
        {
          type   = "alarm"
          x      = 0
          y      = length(local.who_is_connected_widgets) > 0 ? 42 : 36
          width  = 24
          height = 4
          properties = {
            title = "Alarms"
            alarms = concat(
              [
                aws_cloudwatch_metric_alarm.connect_count.arn,
                aws_cloudwatch_metric_alarm.integration_errors.arn,
                aws_cloudwatch_metric_alarm.delivery_failures.arn,
                aws_cloudwatch_metric_alarm.fanout_failures.arn,
                aws_cloudwatch_metric_alarm.fanout_events_dropped.arn,
              ],
              aws_cloudwatch_metric_alarm.connections_drop[*].arn,
              aws_cloudwatch_metric_alarm.connection_stats_missing[*].arn,
              [for alarm in aws_cloudwatch_metric_alarm.dynamodb_table_throttles : alarm.arn],
              [for alarm in aws_cloudwatch_metric_alarm.dynamodb_index_throttles : alarm.arn],
              [for alarm in aws_cloudwatch_metric_alarm.lambda_errors : alarm.arn],
              [for alarm in aws_cloudwatch_metric_alarm.lambda_throttles : alarm.arn],
            )
          }
        },
    ])
  })
}
