locals {
  # Powertools' service name: the `service` field of every log line and the `service` dimension of every metric
  # (src/handlers/deps.ts names its logger "roomcast" too). The DeliveriesFailed alarm filters on it.
  service_name = "roomcast"

  # The management API of this stage, and the IAM resources of its POST and GET /@connections/{connectionId} calls.
  management_endpoint    = "${replace(aws_apigatewayv2_api.this.api_endpoint, "wss://", "https://")}/${var.stage_name}"
  post_to_connection_arn = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}/POST/@connections/*"
  get_connection_arn     = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}/GET/@connections/*"
  delete_connection_arn  = "${aws_apigatewayv2_api.this.execution_arn}/${var.stage_name}/DELETE/@connections/*"

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

  # The fan-out worker's name and ARN, spelt out rather than read from aws_lambda_function.this: send-message's
  # environment and policy (in local.functions) name it, and the functions are made from local.functions.
  fanout_worker_name = "${var.name_prefix}-fan-out-worker"
  fanout_worker_arn  = "arn:${data.aws_partition.current.partition}:lambda:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:function:${local.fanout_worker_name}"

  # What each function that announces presence (or fans out a message) reads: the presence settings, the fan-out
  # concurrency and where to post.
  presence_env = {
    PRESENCE_ENABLED              = var.presence_enabled
    PRESENCE_MAX_ROOM_SIZE        = var.presence_max_room_size
    FANOUT_CONCURRENCY            = var.fanout_concurrency
    WEBSOCKET_MANAGEMENT_ENDPOINT = local.management_endpoint
  }

  # One entry per Lambda function, keyed by its name: the esbuild bundle dist/<name>/index.mjs and the route it
  # serves, null for a function no route invokes (src/handlers/routes.ts WORKERS, held to this map by test/infra),
  # which then says who does (`invoked_by`). `env` is added to common_env (null values are dropped); `statements` is
  # the function's whole IAM policy besides writing to its own log group, exactly what
  # test/infra/dynamodb-needs.ts says its code calls.
  #
  # Every function that reads the caller's record (ConnectionStore.get: all but connect, disconnect, default,
  # fan-out-worker and admin) may find one written before subscriptions (one `room_id`, no `rooms`) and move it
  # over: an UpdateItem of the record and a PutItem of that room's subscription. Hence UpdateItem on connections and
  # PutItem on subscriptions in functions that otherwise only read.
  # What a function that stores a room message and delivers it needs (send-message, and admin's publish): its
  # limits, its stage, and the fan-out tier's settings.
  room_message_env = {
    MESSAGE_RETENTION_DAYS        = var.message_retention_days
    MAX_MESSAGE_CHARS             = var.max_message_chars
    FANOUT_CONCURRENCY            = var.fanout_concurrency
    WEBSOCKET_MANAGEMENT_ENDPOINT = local.management_endpoint
    FANOUT_WORKER_FUNCTION        = var.fanout_workers_enabled ? local.fanout_worker_name : null
    FANOUT_THRESHOLD              = var.fanout_threshold
    FANOUT_SHARD_SIZE             = var.fanout_shard_size
    FANOUT_TIER_CONCURRENCY       = var.fanout_tier_concurrency
  }
  # ...and, with the tier on only, the right to hand shards to the worker, and to no other function.
  hand_shards_to_worker = var.fanout_workers_enabled ? [
    {
      sid       = "HandShardsToWorker"
      actions   = ["lambda:InvokeFunction"]
      resources = [local.fanout_worker_arn]
    },
  ] : []

  functions = {
    # Verifies the token (no longer-lived than TOKEN_MAX_LIFETIME_SECONDS), reads the revocations of its user and of
    # the token itself (one BatchGetItem: `roomcast revoke` writes them), reads the user's and the URL room's newest
    # seqs (BatchGetItem of their counters: where a fresh client starts), registers the connection and, with a room
    # in the URL, subscribes it, then announces the join to the rest of that room (presence): a room query and a
    # post to each connection. It prunes nothing: a 410 there is a newcomer still in $connect.
    connect = {
      route_key = "$connect"
      env = merge(local.presence_env, {
        DYNAMO_TABLE_NAME_CHAT_SUBSCRIPTIONS = aws_dynamodb_table.subscriptions.name
        DYNAMO_TABLE_NAME_CHAT_MESSAGES      = aws_dynamodb_table.messages.name
        DYNAMO_TABLE_NAME_CHAT_REVOCATIONS   = aws_dynamodb_table.revocations.name
        TOKEN_MAX_LIFETIME_SECONDS           = var.token_max_lifetime_seconds
        CONNECTION_MAX_SECONDS               = var.connection_max_seconds
        CONNECTION_TTL_MARGIN_SECONDS        = var.connection_ttl_margin_seconds
        MAX_CONNECTIONS_PER_USER             = var.max_connections_per_user
        JWT_JWKS_URL                         = var.jwt_jwks_url
        JWT_ISSUER                           = var.jwt_issuer
        JWT_AUDIENCE                         = var.jwt_audience
        JWT_ALGORITHMS                       = var.jwt_algorithms == null ? null : join(",", var.jwt_algorithms)
      })
      statements = [
        {
          # PutItem without a room in the URL; with one, the record and its subscription in one BatchWriteItem.
          sid       = "RegisterConnection"
          actions   = ["dynamodb:PutItem", "dynamodb:BatchWriteItem"]
          resources = [aws_dynamodb_table.connections.arn]
        },
        {
          sid       = "CountUserConnections"
          actions   = ["dynamodb:Query"]
          resources = ["${aws_dynamodb_table.connections.arn}/index/user_id-index"]
        },
        {
          sid       = "SubscribeUrlRoomQueryRoom"
          actions   = ["dynamodb:BatchWriteItem", "dynamodb:Query"]
          resources = [aws_dynamodb_table.subscriptions.arn]
        },
        {
          sid       = "ReadNewestSeqs"
          actions   = ["dynamodb:BatchGetItem"]
          resources = [aws_dynamodb_table.messages.arn]
        },
        {
          sid       = "ReadRevocations"
          actions   = ["dynamodb:BatchGetItem"]
          resources = [aws_dynamodb_table.revocations.arn]
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

    # Removes the connection record (which lists the rooms it held), then its subscriptions (BatchWriteItem, 25 a
    # call), then announces the leave to the rest of each room.
    disconnect = {
      route_key = "$disconnect"
      env = merge(local.presence_env, {
        DYNAMO_TABLE_NAME_CHAT_SUBSCRIPTIONS = aws_dynamodb_table.subscriptions.name
      })
      statements = [
        {
          sid       = "RemoveConnection"
          actions   = ["dynamodb:DeleteItem"]
          resources = [aws_dynamodb_table.connections.arn]
        },
        {
          sid       = "RemoveSubscriptionsQueryRooms"
          actions   = ["dynamodb:BatchWriteItem", "dynamodb:Query"]
          resources = [aws_dynamodb_table.subscriptions.arn]
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

    # Reads the caller's record, adds the room to its set (a conditional UpdateItem that holds the cap; a GetItem
    # tells a full record from a gone one when it fails), writes the subscription, reads the record again (and
    # deletes the item when an unsubscribe crossed it), reads the room's newest seq
    # (consistent) and, when asked, a page of history (as get-history does: it may void seqs a dead writer left),
    # replies, then announces the join to the rest of the room.
    subscribe = {
      route_key = "subscribe"
      env = merge(local.presence_env, {
        DYNAMO_TABLE_NAME_CHAT_SUBSCRIPTIONS = aws_dynamodb_table.subscriptions.name
        DYNAMO_TABLE_NAME_CHAT_MESSAGES      = aws_dynamodb_table.messages.name
        MESSAGE_RETENTION_DAYS               = var.message_retention_days
        MAX_ROOMS_PER_CONNECTION             = var.max_rooms_per_connection
      })
      statements = [
        {
          sid       = "ReadCallerAddRoom"
          actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
          resources = [aws_dynamodb_table.connections.arn]
        },
        {
          sid       = "SubscribeQueryRoom"
          actions   = ["dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"]
          resources = [aws_dynamodb_table.subscriptions.arn]
        },
        {
          sid       = "ReadHistory"
          actions   = ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem"]
          resources = [aws_dynamodb_table.messages.arn]
        },
        {
          sid       = "ReplyAnnouncePresence"
          actions   = ["execute-api:ManageConnections"]
          resources = [local.post_to_connection_arn]
        },
      ]
    }

    # Reads the caller's record, deletes the subscription, then removes the room from the record's set, replies,
    # and announces the leave to the rest of the room.
    unsubscribe = {
      route_key = "unsubscribe"
      env = merge(local.presence_env, {
        DYNAMO_TABLE_NAME_CHAT_SUBSCRIPTIONS = aws_dynamodb_table.subscriptions.name
      })
      statements = [
        {
          sid       = "ReadCallerRemoveRoom"
          actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
          resources = [aws_dynamodb_table.connections.arn]
        },
        {
          sid       = "UnsubscribeQueryRoom"
          actions   = ["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:Query"]
          resources = [aws_dynamodb_table.subscriptions.arn]
        },
        {
          sid       = "ReplyAnnouncePresence"
          actions   = ["execute-api:ManageConnections"]
          resources = [local.post_to_connection_arn]
        },
      ]
    }

    # Reads the sender's record, stores the message (takes the room's next seq from its counter, then conditional
    # puts of an idempotency marker it may read back and update, of the message, or of a void for a seq it gives
    # up), queries the room's subscriptions, posts to each connection and prunes the connections that answer 410
    # Gone: the record, the subscriptions it held (BatchWriteItem), and the room's item when the record is gone.
    # A room above FANOUT_THRESHOLD is handed to the fan-out worker instead, shard by shard (an asynchronous
    # Invoke); a shard Lambda refuses it posts itself, as above.
    "send-message" = {
      route_key = "sendMessage"
      env = merge({
        DYNAMO_TABLE_NAME_CHAT_SUBSCRIPTIONS = aws_dynamodb_table.subscriptions.name
        DYNAMO_TABLE_NAME_CHAT_MESSAGES      = aws_dynamodb_table.messages.name
      }, local.room_message_env)
      statements = concat(
        [
          {
            sid       = "ReadSenderPruneGone"
            actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
            resources = [aws_dynamodb_table.connections.arn]
          },
          {
            sid       = "QueryRoomPruneGone"
            actions   = ["dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]
            resources = [aws_dynamodb_table.subscriptions.arn]
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
        ],
        local.hand_shards_to_worker,
      )
    }

    # No route: invoked asynchronously by send-message with one shard of a big room (src/fan-out.ts), and by
    # itself with the posts of a shard that failed. Posts to each connection of the shard and prunes the ones that
    # answer 410 Gone as send-message does (the record, the subscriptions it held, the room's item when the record
    # is gone); reads no table. Lambda sends a shard it gave up on to the failure queue with this role.
    "fan-out-worker" = {
      route_key  = null
      invoked_by = "other functions"
      env = {
        DYNAMO_TABLE_NAME_CHAT_SUBSCRIPTIONS = aws_dynamodb_table.subscriptions.name
        FANOUT_CONCURRENCY                   = var.fanout_concurrency
        FANOUT_WORKER_FUNCTION               = local.fanout_worker_name
        WEBSOCKET_MANAGEMENT_ENDPOINT        = local.management_endpoint
      }
      statements = [
        {
          sid       = "PruneGoneConnection"
          actions   = ["dynamodb:DeleteItem"]
          resources = [aws_dynamodb_table.connections.arn]
        },
        {
          sid       = "PruneGoneSubscriptions"
          actions   = ["dynamodb:BatchWriteItem", "dynamodb:DeleteItem"]
          resources = [aws_dynamodb_table.subscriptions.arn]
        },
        {
          sid       = "PostToShard"
          actions   = ["execute-api:ManageConnections"]
          resources = [local.post_to_connection_arn]
        },
        {
          sid       = "HandOnFailedPosts"
          actions   = ["lambda:InvokeFunction"]
          resources = [local.fanout_worker_arn]
        },
        {
          sid       = "SendGivenUpShard"
          actions   = ["sqs:SendMessage"]
          resources = [aws_sqs_queue.fanout_failures.arn]
        },
      ]
    }

    # No route: the operators' function (src/admin.ts), invoked synchronously (RequestResponse) with IAM credentials
    # by `roomcast` and @roomcast/admin, which need aws_iam_policy.operator (iam.tf). Publish stores a
    # message as send-message does and delivers it to a room (its subscriptions; above FANOUT_THRESHOLD through the
    # fan-out worker, while the tier is on) or to a user (its connections through user_id-index), pruning the
    # connections that answer 410 Gone. Revoke writes the revocation $connect reads (kept TOKEN_MAX_LIFETIME_SECONDS;
    # when a later one of the user's stays, it reads that one back to answer the revocation in effect),
    # then reads the user's connections (each record says which token opened it) and closes them (DeleteConnection).
    # Stats (`roomcast stats`, and every minute the connections gauge's schedule, lambda.tf, asynchronously) counts
    # live connections with a Scan of user_id-index (Select COUNT) and rooms with a Scan of the subscriptions table;
    # the schedule's run also publishes them as metrics (README, "Connections gauge").
    admin = {
      route_key  = null
      invoked_by = "operators (roomcast publish, revoke, stats) and the connections gauge's schedule"
      env = merge({
        DYNAMO_TABLE_NAME_CHAT_SUBSCRIPTIONS = aws_dynamodb_table.subscriptions.name
        DYNAMO_TABLE_NAME_CHAT_MESSAGES      = aws_dynamodb_table.messages.name
        DYNAMO_TABLE_NAME_CHAT_REVOCATIONS   = aws_dynamodb_table.revocations.name
        TOKEN_MAX_LIFETIME_SECONDS           = var.token_max_lifetime_seconds
      }, local.room_message_env)
      statements = concat(
        [
          {
            sid       = "ReadConnectionsPruneGone"
            actions   = ["dynamodb:GetItem", "dynamodb:DeleteItem"]
            resources = [aws_dynamodb_table.connections.arn]
          },
          {
            sid       = "QueryUserConnections"
            actions   = ["dynamodb:Query"]
            resources = ["${aws_dynamodb_table.connections.arn}/index/user_id-index"]
          },
          {
            sid       = "QueryRoomPruneGone"
            actions   = ["dynamodb:Query", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]
            resources = [aws_dynamodb_table.subscriptions.arn]
          },
          # Stats: the only Scans any function may make, of the index (live connections, Select COUNT) and of the
          # subscriptions table (rooms and their sizes), never of the connections table itself.
          {
            sid       = "CountLiveConnections"
            actions   = ["dynamodb:Scan"]
            resources = ["${aws_dynamodb_table.connections.arn}/index/user_id-index"]
          },
          {
            sid       = "CountRooms"
            actions   = ["dynamodb:Scan"]
            resources = [aws_dynamodb_table.subscriptions.arn]
          },
          {
            sid       = "StoreMessage"
            actions   = ["dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:GetItem"]
            resources = [aws_dynamodb_table.messages.arn]
          },
          {
            sid       = "WriteRevocation"
            actions   = ["dynamodb:PutItem", "dynamodb:GetItem"]
            resources = [aws_dynamodb_table.revocations.arn]
          },
          {
            sid       = "PostToRoomOrUser"
            actions   = ["execute-api:ManageConnections"]
            resources = [local.post_to_connection_arn]
          },
          {
            sid       = "CloseRevokedConnections"
            actions   = ["execute-api:ManageConnections"]
            resources = [local.delete_connection_arn]
          },
        ],
        local.hand_shards_to_worker,
      )
    }

    # Reads the sender's record, finds the recipient's and the sender's connections through user_id-index, asks
    # API Gateway whether the recipient's are still there (GetConnection: a record outlives a crash), stores the
    # message in both inboxes (as send-message does, a seq in each), posts to each connection and prunes the
    # connections that answer 410 Gone (their records and the subscriptions they held).
    "send-direct" = {
      route_key = "sendDirect"
      env = {
        DYNAMO_TABLE_NAME_CHAT_SUBSCRIPTIONS = aws_dynamodb_table.subscriptions.name
        DYNAMO_TABLE_NAME_CHAT_MESSAGES      = aws_dynamodb_table.messages.name
        MESSAGE_RETENTION_DAYS               = var.message_retention_days
        MAX_MESSAGE_CHARS                    = var.max_message_chars
        FANOUT_CONCURRENCY                   = var.fanout_concurrency
        WEBSOCKET_MANAGEMENT_ENDPOINT        = local.management_endpoint
      }
      statements = [
        {
          sid       = "ReadSenderPruneGone"
          actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
          resources = [aws_dynamodb_table.connections.arn]
        },
        {
          sid       = "QueryUserConnections"
          actions   = ["dynamodb:Query"]
          resources = ["${aws_dynamodb_table.connections.arn}/index/user_id-index"]
        },
        {
          sid       = "UpgradeSenderPruneGone"
          actions   = ["dynamodb:PutItem", "dynamodb:BatchWriteItem"]
          resources = [aws_dynamodb_table.subscriptions.arn]
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

    # Reads the caller's record (its rooms and user), queries one page of a room it holds or of its inbox (and
    # its counter), voids the seqs a dead writer left (a conditional put) and replies with it.
    "get-history" = {
      route_key = "getHistory"
      env = {
        DYNAMO_TABLE_NAME_CHAT_SUBSCRIPTIONS = aws_dynamodb_table.subscriptions.name
        DYNAMO_TABLE_NAME_CHAT_MESSAGES      = aws_dynamodb_table.messages.name
        MESSAGE_RETENTION_DAYS               = var.message_retention_days
        WEBSOCKET_MANAGEMENT_ENDPOINT        = local.management_endpoint
      }
      statements = [
        {
          sid       = "ReadCaller"
          actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
          resources = [aws_dynamodb_table.connections.arn]
        },
        {
          sid       = "UpgradeCaller"
          actions   = ["dynamodb:PutItem"]
          resources = [aws_dynamodb_table.subscriptions.arn]
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

    # Reads the caller's record, queries the subscriptions of a room it holds, reads the room's newest seq and
    # replies with the members.
    "list-members" = {
      route_key = "listMembers"
      env = {
        DYNAMO_TABLE_NAME_CHAT_SUBSCRIPTIONS = aws_dynamodb_table.subscriptions.name
        DYNAMO_TABLE_NAME_CHAT_MESSAGES      = aws_dynamodb_table.messages.name
        WEBSOCKET_MANAGEMENT_ENDPOINT        = local.management_endpoint
      }
      statements = [
        {
          sid       = "ReadCaller"
          actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
          resources = [aws_dynamodb_table.connections.arn]
        },
        {
          sid       = "QueryRoomUpgradeCaller"
          actions   = ["dynamodb:Query", "dynamodb:PutItem"]
          resources = [aws_dynamodb_table.subscriptions.arn]
        },
        {
          sid       = "ReadNewestSeq"
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

    # Reads the caller's record and the newest seqs of every room it holds and of its inbox (BatchGetItem of their
    # counters, up to 100 a call), and replies with them.
    ping = {
      route_key = "ping"
      env = {
        DYNAMO_TABLE_NAME_CHAT_SUBSCRIPTIONS = aws_dynamodb_table.subscriptions.name
        DYNAMO_TABLE_NAME_CHAT_MESSAGES      = aws_dynamodb_table.messages.name
        WEBSOCKET_MANAGEMENT_ENDPOINT        = local.management_endpoint
      }
      statements = [
        {
          sid       = "ReadCaller"
          actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
          resources = [aws_dynamodb_table.connections.arn]
        },
        {
          sid       = "UpgradeCaller"
          actions   = ["dynamodb:PutItem"]
          resources = [aws_dynamodb_table.subscriptions.arn]
        },
        {
          sid       = "ReadNewestSeqs"
          actions   = ["dynamodb:BatchGetItem"]
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

  # The functions API Gateway invokes, one route each (apigateway.tf); the others are invoked by functions or, the
  # admin function, by operators and the connections gauge's schedule.
  routed_functions = { for name, fn in local.functions : name => fn if fn.route_key != null }

  # The functions that take client frames ($default and every action): past CONNECTION_CLOSE_AFTER_REFUSALS refused
  # frames a minute they close the connection (DeleteConnection, src/route.ts `admitted`).
  frame_functions = toset([for name, fn in local.routed_functions : name if fn.route_key == "$default" || !startswith(fn.route_key, "$")])

  # What descriptions and alarms call a function: its route key, or its name when no route invokes it.
  function_labels = { for name, fn in local.functions : name => coalesce(fn.route_key, name) }

  function_names           = { for name in keys(local.functions) : name => "${var.name_prefix}-${name}" }
  function_memory_mb       = { for name in keys(local.functions) : name => lookup(merge(local.default_function_memory_mb, var.function_memory_mb), name, var.lambda_memory_mb) }
  function_timeout_seconds = { for name in keys(local.functions) : name => lookup(merge(local.default_function_timeout_seconds, var.function_timeout_seconds), name, var.lambda_timeout_seconds) }

  # The worker and the admin function have settings of their own (function_memory_mb and function_timeout_seconds
  # take route functions only).
  # send-message posts to every room of up to fanout_threshold members itself, and a post's signature and request
  # are CPU, which Lambda gives in proportion to memory: at 256 MB it sends about 1,100 posts a second, at 512 MB
  # twice that, for about $0.17 more per million messages at 50 ms each (infra/terraform/README.md, cost model).
  # The admin function gets send-message's memory, an override included: a publish posts to a room up to
  # fanout_threshold itself, as the sender does (any room, with the tier off).
  default_function_memory_mb = {
    "send-message"   = max(512, var.lambda_memory_mb)
    "fan-out-worker" = var.fanout_worker_memory_mb
    admin            = lookup(var.function_memory_mb, "send-message", max(512, var.lambda_memory_mb))
  }

  # send-message fans out to a whole room, so it gets API Gateway's whole 29 s unless var.function_timeout_seconds
  # says otherwise (an override of another function keeps this one). The worker and the admin function answer to no
  # API Gateway, so their timeouts are their own.
  default_function_timeout_seconds = {
    "send-message"   = 29
    "fan-out-worker" = var.fanout_worker_timeout_seconds
    admin            = var.admin_timeout_seconds
  }

  # Reserved concurrency by function; the others draw on the account's unreserved pool.
  function_reserved_concurrency = { "fan-out-worker" = var.fanout_worker_reserved_concurrency }

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

data "aws_caller_identity" "current" {}
