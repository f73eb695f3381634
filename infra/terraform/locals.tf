locals {
  # Powertools' service name: the `service` field of every log line and the `service` dimension of every metric
  # (src/handlers/deps.ts names its logger "roomcast" too). The DeliveriesFailed alarm filters on it.
  service_name = "roomcast"

  # The management API of this stage, and the IAM resources of its POST and GET /@connections/{connectionId} calls.
  management_endpoint    = "${replace(aws_apigatewayv2_api.this.api_endpoint, "wss://", "https://")}/${var.stage_name}"
  post_to_connection_arn = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}/POST/@connections/*"
  get_connection_arn     = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}/GET/@connections/*"

  # The stage's access log line: the query string (which carries the token) is not logged.
  access_log_format = jsonencode({
    requestId          = "$context.requestId"
    extendedRequestId  = "$context.extendedRequestId"
    apiId              = "$context.apiId"
    stage              = "$context.stage"
    connectionId       = "$context.connectionId"
    connectedAt        = "$context.connectedAt"
    eventType          = "$context.eventType"
    routeKey           = "$context.routeKey"
    messageId          = "$context.messageId"
    status             = "$context.status"
    integrationStatus  = "$context.integration.status"
    integrationError   = "$context.integration.error"
    integrationLatency = "$context.integration.latency"
    error              = "$context.error.message"
    errorType          = "$context.error.responseType"
    ip                 = "$context.identity.sourceIp"
    userAgent          = "$context.identity.userAgent"
    requestTime        = "$context.requestTime"
    requestTimeEpoch   = "$context.requestTimeEpoch"
  })

  # Environment every function gets. Keys are the names src/config.ts reads (CONFIG_ENV_VARS), plus Powertools'.
  # AWS_REGION is reserved: Lambda sets it. No NODE_OPTIONS=--enable-source-maps: it costs about 10 ms of CPU on
  # every cold start (bench/micro/source-maps.ts); the bundles keep their function names instead, and their source
  # maps stay in dist/ for reading a stack offline.
  common_env = {
    DYNAMO_TABLE_NAME_CHAT_CONNECTIONS = aws_dynamodb_table.connections.name
    LOG_LEVEL                          = var.log_level
    POWERTOOLS_SERVICE_NAME            = local.service_name
    POWERTOOLS_METRICS_NAMESPACE       = var.metrics_namespace
    # What one connection may send; each route function counts in its own containers (src/frame-limiter.ts).
    CONNECTION_FRAMES_PER_SECOND    = var.connection_limits.frames_per_second
    CONNECTION_FRAME_BURST          = var.connection_limits.frame_burst
    CONNECTION_BYTES_PER_SECOND     = var.connection_limits.bytes_per_second
    CONNECTION_BYTE_BURST           = var.connection_limits.byte_burst
    CONNECTION_CLOSE_AFTER_REFUSALS = var.connection_limits.close_after_refusals
  }

  # One entry per Lambda function, keyed by its name: the esbuild bundle dist/<name>/index.mjs and the route it
  # serves (src/handlers/routes.ts, held to this map by test/infra). `env` is added to common_env (null values are
  # dropped); `statements` is the function's whole IAM policy besides writing to its own log group.
  functions = {
    # Verifies the token, reads the room's and the user's newest seqs (where a fresh client starts), registers the
    # connection, then announces the join to the rest of the room (presence): a room query and a post to each
    # connection. It prunes nothing: a 410 there is a newcomer still in $connect.
    connect = {
      route_key = "$connect"
      env = {
        DYNAMO_TABLE_NAME_CHAT_MESSAGES = aws_dynamodb_table.messages.name
        CONNECTION_MAX_SECONDS          = var.connection_max_seconds
        CONNECTION_TTL_MARGIN_SECONDS   = var.connection_ttl_margin_seconds
        PRESENCE_ENABLED                = var.presence_enabled
        PRESENCE_MAX_ROOM_SIZE          = var.presence_max_room_size
        FANOUT_CONCURRENCY              = var.fanout_concurrency
        WEBSOCKET_MANAGEMENT_ENDPOINT   = local.management_endpoint
        MAX_CONNECTIONS_PER_USER        = var.max_connections_per_user
        JWT_JWKS_URL                    = var.jwt_jwks_url
        JWT_ISSUER                      = var.jwt_issuer
        JWT_AUDIENCE                    = var.jwt_audience
        JWT_ALGORITHMS                  = var.jwt_algorithms == null ? null : join(",", var.jwt_algorithms)
      }
      statements = [
        {
          sid       = "RegisterConnection"
          actions   = ["dynamodb:PutItem"]
          resources = [aws_dynamodb_table.connections.arn]
        },
        {
          sid       = "ReadNewestSeqs"
          actions   = ["dynamodb:GetItem"]
          resources = [aws_dynamodb_table.messages.arn]
        },
        {
          sid       = "QueryRoom"
          actions   = ["dynamodb:Query"]
          resources = ["${aws_dynamodb_table.connections.arn}/index/room_id-index"]
        },
        {
          sid       = "CountUserConnections"
          actions   = ["dynamodb:Query"]
          resources = ["${aws_dynamodb_table.connections.arn}/index/user_id-index"]
        },
        {
          sid       = "AnnouncePresence"
          actions   = ["execute-api:ManageConnections"]
          resources = [local.post_to_connection_arn]
        },
        {
          sid       = "CheckUserConnections"
          actions   = ["execute-api:ManageConnections"]
          resources = [local.get_connection_arn]
        },
      ]
    }

    # Removes the connection record, then announces the leave to the rest of the room.
    disconnect = {
      route_key = "$disconnect"
      env = {
        PRESENCE_ENABLED              = var.presence_enabled
        PRESENCE_MAX_ROOM_SIZE        = var.presence_max_room_size
        FANOUT_CONCURRENCY            = var.fanout_concurrency
        WEBSOCKET_MANAGEMENT_ENDPOINT = local.management_endpoint
      }
      statements = [
        {
          sid       = "RemoveConnection"
          actions   = ["dynamodb:DeleteItem"]
          resources = [aws_dynamodb_table.connections.arn]
        },
        {
          sid       = "QueryRoom"
          actions   = ["dynamodb:Query"]
          resources = ["${aws_dynamodb_table.connections.arn}/index/room_id-index"]
        },
        {
          sid       = "AnnouncePresence"
          actions   = ["execute-api:ManageConnections"]
          resources = [local.post_to_connection_arn]
        },
      ]
    }

    # Frames that match no route: replies with an error frame.
    default = {
      route_key = "$default"
      env = {
        MAX_MESSAGE_CHARS             = var.max_message_chars
        WEBSOCKET_MANAGEMENT_ENDPOINT = local.management_endpoint
      }
      statements = [
        {
          sid       = "ReplyToCaller"
          actions   = ["execute-api:ManageConnections"]
          resources = [local.post_to_connection_arn]
        },
      ]
    }

    # Reads the sender's record, stores the message (takes the room's next seq from its counter, then conditional
    # puts of an idempotency marker it may read back and update, of the message, or of a void for a seq it gives
    # up), queries the room through room_id-index, posts to each connection and deletes the records of connections
    # that answer 410 Gone.
    "send-message" = {
      route_key = "sendMessage"
      env = {
        DYNAMO_TABLE_NAME_CHAT_MESSAGES = aws_dynamodb_table.messages.name
        MESSAGE_RETENTION_DAYS          = var.message_retention_days
        MAX_MESSAGE_CHARS               = var.max_message_chars
        FANOUT_CONCURRENCY              = var.fanout_concurrency
        WEBSOCKET_MANAGEMENT_ENDPOINT   = local.management_endpoint
      }
      statements = [
        {
          sid       = "ReadSenderPruneGone"
          actions   = ["dynamodb:GetItem", "dynamodb:DeleteItem"]
          resources = [aws_dynamodb_table.connections.arn]
        },
        {
          sid       = "QueryRoom"
          actions   = ["dynamodb:Query"]
          resources = ["${aws_dynamodb_table.connections.arn}/index/room_id-index"]
        },
        {
          sid       = "StoreMessage"
          actions   = ["dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:GetItem"]
          resources = [aws_dynamodb_table.messages.arn]
        },
        {
          sid       = "PostToRoom"
          actions   = ["execute-api:ManageConnections"]
          resources = [local.post_to_connection_arn]
        },
      ]
    }

    # Reads the sender's record, finds the recipient's and the sender's connections through user_id-index, asks
    # API Gateway whether the recipient's are still there (GetConnection: a record outlives a crash), stores the
    # message in both inboxes (as send-message does, a seq in each), posts to each connection and deletes the
    # records of connections that answer 410 Gone.
    "send-direct" = {
      route_key = "sendDirect"
      env = {
        DYNAMO_TABLE_NAME_CHAT_MESSAGES = aws_dynamodb_table.messages.name
        MESSAGE_RETENTION_DAYS          = var.message_retention_days
        MAX_MESSAGE_CHARS               = var.max_message_chars
        FANOUT_CONCURRENCY              = var.fanout_concurrency
        WEBSOCKET_MANAGEMENT_ENDPOINT   = local.management_endpoint
      }
      statements = [
        {
          sid       = "ReadSenderPruneGone"
          actions   = ["dynamodb:GetItem", "dynamodb:DeleteItem"]
          resources = [aws_dynamodb_table.connections.arn]
        },
        {
          sid       = "QueryUserConnections"
          actions   = ["dynamodb:Query"]
          resources = ["${aws_dynamodb_table.connections.arn}/index/user_id-index"]
        },
        {
          sid       = "StoreMessage"
          actions   = ["dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:GetItem"]
          resources = [aws_dynamodb_table.messages.arn]
        },
        {
          sid       = "PostToUsers"
          actions   = ["execute-api:ManageConnections"]
          resources = [local.post_to_connection_arn]
        },
        {
          sid       = "CheckRecipients"
          actions   = ["execute-api:ManageConnections"]
          resources = [local.get_connection_arn]
        },
      ]
    }

    # Reads the caller's record (its room and user), queries one page of the room or of the caller's inbox (and
    # its counter), voids the seqs a dead writer left (a conditional put) and replies with it.
    "get-history" = {
      route_key = "getHistory"
      env = {
        DYNAMO_TABLE_NAME_CHAT_MESSAGES = aws_dynamodb_table.messages.name
        MESSAGE_RETENTION_DAYS          = var.message_retention_days
        WEBSOCKET_MANAGEMENT_ENDPOINT   = local.management_endpoint
      }
      statements = [
        {
          sid       = "ReadCaller"
          actions   = ["dynamodb:GetItem"]
          resources = [aws_dynamodb_table.connections.arn]
        },
        {
          sid       = "ReadHistory"
          actions   = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem"]
          resources = [aws_dynamodb_table.messages.arn]
        },
        {
          sid       = "ReplyToCaller"
          actions   = ["execute-api:ManageConnections"]
          resources = [local.post_to_connection_arn]
        },
      ]
    }

    # Reads the caller's record, queries the room through room_id-index, reads the room's newest seq and replies
    # with the members.
    "list-members" = {
      route_key = "listMembers"
      env = {
        DYNAMO_TABLE_NAME_CHAT_MESSAGES = aws_dynamodb_table.messages.name
        WEBSOCKET_MANAGEMENT_ENDPOINT   = local.management_endpoint
      }
      statements = [
        {
          sid       = "ReadCaller"
          actions   = ["dynamodb:GetItem"]
          resources = [aws_dynamodb_table.connections.arn]
        },
        {
          sid       = "ReadNewestSeq"
          actions   = ["dynamodb:GetItem"]
          resources = [aws_dynamodb_table.messages.arn]
        },
        {
          sid       = "QueryRoom"
          actions   = ["dynamodb:Query"]
          resources = ["${aws_dynamodb_table.connections.arn}/index/room_id-index"]
        },
        {
          sid       = "ReplyToCaller"
          actions   = ["execute-api:ManageConnections"]
          resources = [local.post_to_connection_arn]
        },
      ]
    }

    # Reads the caller's record and the newest seqs of its room and inbox, and replies with them.
    ping = {
      route_key = "ping"
      env = {
        DYNAMO_TABLE_NAME_CHAT_MESSAGES = aws_dynamodb_table.messages.name
        WEBSOCKET_MANAGEMENT_ENDPOINT   = local.management_endpoint
      }
      statements = [
        {
          sid       = "ReadCaller"
          actions   = ["dynamodb:GetItem"]
          resources = [aws_dynamodb_table.connections.arn]
        },
        {
          sid       = "ReadNewestSeqs"
          actions   = ["dynamodb:GetItem"]
          resources = [aws_dynamodb_table.messages.arn]
        },
        {
          sid       = "ReplyToCaller"
          actions   = ["execute-api:ManageConnections"]
          resources = [local.post_to_connection_arn]
        },
      ]
    }
  }

  # Secret environment, kept out of local.functions because that map drives for_each, which must not hold
  # sensitive values. Only $connect verifies tokens.
  function_secret_env = {
    # Decided by the JWKS URL, not by the secret itself: a condition on a sensitive value is sensitive as a whole.
    connect = var.jwt_jwks_url != null ? {} : {
      JWT_SECRET = local.jwt_secret
    }
  }

  # What each function may do with a customer managed table key (var.table_kms_key_arn), derived from its DynamoDB
  # grants: any table access decrypts, a write also encrypts. These are the sets AWS CDK grants for table reads and
  # writes, with its wildcards (kms:ReEncrypt*, kms:GenerateDataKey*) spelled out.
  table_key_actions = {
    for name, fn in local.functions : name => concat(
      anytrue([for statement in fn.statements : anytrue([for action in statement.actions : startswith(action, "dynamodb:")])])
      ? ["kms:Decrypt", "kms:DescribeKey"] : [],
      anytrue([for statement in fn.statements : anytrue([for action in statement.actions : contains(["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"], action)])])
      ? ["kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo"] : [],
    )
  }

  function_names           = { for name in keys(local.functions) : name => "${var.name_prefix}-${name}" }
  function_memory_mb       = { for name in keys(local.functions) : name => lookup(var.function_memory_mb, name, var.lambda_memory_mb) }
  function_timeout_seconds = { for name in keys(local.functions) : name => lookup(merge(local.default_function_timeout_seconds, var.function_timeout_seconds), name, var.lambda_timeout_seconds) }

  # send-message fans out to a whole room, so it gets API Gateway's whole 29 s unless var.function_timeout_seconds
  # says otherwise (an override of another function keeps this one).
  default_function_timeout_seconds = { "send-message" = 29 }

  # The HS256 secret from the variable or from SSM; null with a JWKS URL.
  jwt_secret = var.jwt_secret != null ? var.jwt_secret : one(data.aws_ssm_parameter.jwt_secret[*].value)

  # Which token sources are set; exactly one must be (checked by a precondition on the API in apigateway.tf, as
  # cross-variable validation needs Terraform 1.9).
  jwt_sources = [
    for name, value in {
      jwt_secret               = var.jwt_secret
      jwt_secret_ssm_parameter = var.jwt_secret_ssm_parameter
      jwt_jwks_url             = var.jwt_jwks_url
    } : name if value != null
  ]
}

data "aws_ssm_parameter" "jwt_secret" {
  count = var.jwt_secret_ssm_parameter == null ? 0 : 1

  name            = var.jwt_secret_ssm_parameter
  with_decryption = true

  lifecycle {
    # src/config.ts refuses a shorter JWT_SECRET, which would fail every $connect.
    postcondition {
      condition     = length(self.value) >= 32
      error_message = "The SSM parameter ${var.jwt_secret_ssm_parameter} holds fewer than 32 characters: connect tokens need a secret of at least 32."
    }
  }
}

data "aws_region" "current" {}

data "aws_partition" "current" {}
