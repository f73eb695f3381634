# ---------------------------------------------------------------------------------------------------------------------
# Naming and placement
# ---------------------------------------------------------------------------------------------------------------------

variable "region" {
  description = "AWS region to deploy to. Null uses the provider's default (AWS_REGION, AWS_DEFAULT_REGION or the profile)."
  type        = string
  default     = null
}

variable "name_prefix" {
  description = "Prefix of every resource name (functions, roles, tables, API, log groups, alarms). IAM role names are account-wide, so use a distinct prefix per deployment in an account."
  type        = string
  default     = "roomcast"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9-]{0,31}$", var.name_prefix))
    error_message = "The name_prefix must be 1-32 letters, digits or '-', starting with a letter."
  }
}

variable "tags" {
  description = "Tags added to every resource (merged into the provider's default_tags)."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------------------------------------------------
# API Gateway
# ---------------------------------------------------------------------------------------------------------------------

variable "stage_name" {
  description = "API Gateway stage; the last path segment of the wss:// URL and of the management endpoint."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.stage_name))
    error_message = "The stage_name must be 1-128 letters, digits, '_' or '-'."
  }
}

variable "throttling_burst_limit" {
  description = "Stage default route throttling: burst (token bucket size), across all clients."
  type        = number
  default     = 500

  validation {
    condition     = var.throttling_burst_limit >= 0 && floor(var.throttling_burst_limit) == var.throttling_burst_limit
    error_message = "The throttling_burst_limit must be a whole number >= 0."
  }
}

variable "throttling_rate_limit" {
  description = "Stage default route throttling: steady requests per second, across all clients. The account-wide quota (10,000 RPS in most regions) also applies."
  type        = number
  default     = 1000

  validation {
    condition     = var.throttling_rate_limit > 0
    error_message = "The throttling_rate_limit must be > 0."
  }
}

variable "access_logs_enabled" {
  description = "API Gateway access logs of the stage (one JSON line per connect, message and disconnect) in a log group created here. Off by default because it needs the region's API Gateway CloudWatch role (see manage_api_gateway_account): without one, creating the stage fails."
  type        = bool
  default     = false
}

variable "execution_logging_level" {
  description = "API Gateway execution logging: OFF, ERROR or INFO. Like access logs, anything but OFF needs the region's API Gateway CloudWatch role (see manage_api_gateway_account), so it is OFF by default."
  type        = string
  default     = "OFF"

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.execution_logging_level)
    error_message = "The execution_logging_level must be OFF, ERROR or INFO."
  }
}

variable "detailed_metrics_enabled" {
  description = "Per-route API Gateway metrics (ApiId + Stage + Route dimensions). They are billed as custom metrics."
  type        = bool
  default     = false
}

variable "manage_api_gateway_account" {
  description = "Create the IAM role API Gateway uses to write CloudWatch logs and register it in the region's API Gateway account settings (aws_api_gateway_account). That setting is shared by every API in the account and region: enable this only if nothing else manages it. With the AWS provider v6, destroying it resets the setting."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Retention of every log group created here (Lambda functions, API access and execution logs). 0 keeps logs forever."
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "The log_retention_days must be a value CloudWatch Logs accepts (0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Custom domain (optional): wss://chat.example.com instead of wss://{api_id}.execute-api.{region}.amazonaws.com/{stage}
# ---------------------------------------------------------------------------------------------------------------------

variable "custom_domain_name" {
  description = "Domain clients connect to, e.g. chat.example.com (a regional API Gateway custom domain). Null: only the execute-api URL. Needs custom_domain_certificate_arn."
  type        = string
  default     = null

  validation {
    condition     = var.custom_domain_name == null || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.custom_domain_name))
    error_message = "The custom_domain_name must be a lower-case DNS name such as chat.example.com (no scheme, no path)."
  }
}

variable "custom_domain_certificate_arn" {
  description = "ACM certificate for custom_domain_name, issued (validated) in the same region as the API: regional custom domains use a certificate of their own region."
  type        = string
  default     = null

  validation {
    condition     = var.custom_domain_certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$", var.custom_domain_certificate_arn))
    error_message = "The custom_domain_certificate_arn must be an ACM certificate ARN, arn:aws:acm:<region>:<account>:certificate/<id>."
  }
}

variable "custom_domain_base_path" {
  description = "API mapping key: the path under custom_domain_name that serves this stage, e.g. \"chat\" for wss://example.com/chat (one segment: WebSocket APIs take no multi-level mappings). Null maps the stage to the domain's root."
  type        = string
  default     = null

  validation {
    condition     = var.custom_domain_base_path == null || can(regex("^[A-Za-z0-9$_.+!*'()-]{1,300}$", var.custom_domain_base_path))
    error_message = "The custom_domain_base_path must be one path segment of up to 300 letters, digits or $ - _ . + ! * ' ( ) (API Gateway's rule for API mappings; no slashes)."
  }
}

variable "custom_domain_route53_zone_id" {
  description = "Route 53 hosted zone in which to create the domain's alias record. Null: create the DNS record yourself (a CNAME to the custom_domain_target output)."
  type        = string
  default     = null

  validation {
    condition     = var.custom_domain_route53_zone_id == null || can(regex("^Z[A-Z0-9]{1,31}$", var.custom_domain_route53_zone_id))
    error_message = "The custom_domain_route53_zone_id must be a Route 53 hosted zone ID such as Z0123456789ABCDEFGHIJ."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# DynamoDB
# ---------------------------------------------------------------------------------------------------------------------

variable "point_in_time_recovery" {
  description = "Point-in-time recovery of every table. Connection records and subscriptions live a few hours and messages expire after message_retention_days, so it is off by default."
  type        = bool
  default     = false
}

variable "table_kms_key_arn" {
  description = "Customer managed KMS key for the tables' encryption at rest, as a key ARN (not an alias: IAM grants the functions use of the key by its ARN). Null uses the AWS managed key (aws/dynamodb)."
  type        = string
  default     = null

  validation {
    condition     = var.table_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.table_kms_key_arn))
    error_message = "The table_kms_key_arn must be a KMS key ARN, arn:aws:kms:<region>:<account>:key/<key id> (an alias ARN cannot be granted in IAM)."
  }
}

variable "deletion_protection" {
  description = "DynamoDB deletion protection on every table. Turn it off (and apply) before `terraform destroy`."
  type        = bool
  default     = false
}

# ---------------------------------------------------------------------------------------------------------------------
# Lambda functions
# ---------------------------------------------------------------------------------------------------------------------

variable "lambda_memory_mb" {
  description = "Memory of every route function unless function_memory_mb overrides it; send-message gets at least 512 MB, since it posts to every room up to fanout_threshold itself and posting is CPU (the fan-out worker has fanout_worker_memory_mb). Lambda gives CPU in proportion to memory."
  type        = number
  default     = 256

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240 && floor(var.lambda_memory_mb) == var.lambda_memory_mb
    error_message = "The lambda_memory_mb must be a whole number between 128 and 10240."
  }
}

variable "function_memory_mb" {
  description = "Per-function memory overrides, by route function name (connect, disconnect, default, subscribe, unsubscribe, send-message, send-direct, get-history, list-members, ping)."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for name, mb in var.function_memory_mb : contains(["connect", "disconnect", "default", "subscribe", "unsubscribe", "send-message", "send-direct", "get-history", "list-members", "ping"], name) && mb >= 128 && mb <= 10240 && floor(mb) == mb])
    error_message = "The function_memory_mb keys must be route function names (connect, disconnect, default, subscribe, unsubscribe, send-message, send-direct, get-history, list-members, ping; the fan-out worker has fanout_worker_memory_mb) and the values whole numbers between 128 and 10240."
  }
}

variable "lambda_timeout_seconds" {
  description = "Timeout of every route function unless function_timeout_seconds overrides it (the fan-out worker has fanout_worker_timeout_seconds). API Gateway stops waiting for an integration after 29 s."
  type        = number
  default     = 10

  validation {
    condition     = var.lambda_timeout_seconds >= 1 && var.lambda_timeout_seconds <= 900
    error_message = "The lambda_timeout_seconds must be between 1 and 900."
  }
}

variable "function_timeout_seconds" {
  description = "Per-function timeout overrides, by route function name. send-message fans out to a whole room, so it gets API Gateway's 29 s unless this map names it."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for name, seconds in var.function_timeout_seconds : contains(["connect", "disconnect", "default", "subscribe", "unsubscribe", "send-message", "send-direct", "get-history", "list-members", "ping"], name) && seconds >= 1 && seconds <= 900 && floor(seconds) == seconds])
    error_message = "The function_timeout_seconds keys must be route function names (connect, disconnect, default, subscribe, unsubscribe, send-message, send-direct, get-history, list-members, ping; the fan-out worker has fanout_worker_timeout_seconds) and the values whole numbers between 1 and 900."
  }
}

variable "log_level" {
  description = "LOG_LEVEL of the functions."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN", "ERROR", "SILENT", "CRITICAL"], var.log_level)
    error_message = "The log_level must be DEBUG, INFO, WARN, ERROR, SILENT or CRITICAL."
  }
}

variable "connection_max_seconds" {
  description = "CONNECTION_MAX_SECONDS: API Gateway closes every connection after 2 hours, so a connection record needs to live no longer."
  type        = number
  default     = 7200

  validation {
    condition     = var.connection_max_seconds >= 1 && floor(var.connection_max_seconds) == var.connection_max_seconds
    error_message = "The connection_max_seconds must be a whole number >= 1."
  }
}

variable "connection_ttl_margin_seconds" {
  description = "CONNECTION_TTL_MARGIN_SECONDS: added to connection_max_seconds to make a connection record's DynamoDB TTL."
  type        = number
  default     = 600

  validation {
    condition     = var.connection_ttl_margin_seconds >= 1 && floor(var.connection_ttl_margin_seconds) == var.connection_ttl_margin_seconds
    error_message = "The connection_ttl_margin_seconds must be a whole number >= 1."
  }
}

variable "message_retention_days" {
  description = "MESSAGE_RETENTION_DAYS: how long messages stay readable in history (the messages table's TTL)."
  type        = number
  default     = 7

  validation {
    condition     = var.message_retention_days >= 1 && var.message_retention_days <= 3650 && floor(var.message_retention_days) == var.message_retention_days
    error_message = "The message_retention_days must be a whole number between 1 and 3650."
  }
}

variable "presence_enabled" {
  description = "PRESENCE_ENABLED: $connect, $disconnect, subscribe and unsubscribe announce join/leave to the room. Each announcement is a fan-out to the whole room (billed messages); switch off for very large rooms."
  type        = bool
  default     = true
}

variable "presence_max_room_size" {
  description = "PRESENCE_MAX_ROOM_SIZE: rooms with more connections than this get no join/leave frames, so a filling room does not cost O(N²) posts."
  type        = number
  default     = 100

  validation {
    condition     = var.presence_max_room_size >= 1 && var.presence_max_room_size <= 10000 && floor(var.presence_max_room_size) == var.presence_max_room_size
    error_message = "The presence_max_room_size must be a whole number between 1 and 10000."
  }
}

variable "max_message_chars" {
  description = "MAX_MESSAGE_CHARS: longest chat message accepted, in characters (Unicode code points). A sendMessage frame must fit API Gateway's 32 KB WebSocket frame (a bigger one closes the connection with 1009); at up to 6 bytes per character once JSON-escaped, 5,000 is the most that always fits."
  type        = number
  default     = 4000

  validation {
    condition     = var.max_message_chars >= 1 && var.max_message_chars <= 5000 && floor(var.max_message_chars) == var.max_message_chars
    error_message = "The max_message_chars must be a whole number between 1 and 5000 (a longer message may not fit API Gateway's 32 KB frame)."
  }
}

variable "fanout_concurrency" {
  description = "FANOUT_CONCURRENCY: PostToConnection calls a fan-out (messages, presence) keeps in flight at once."
  type        = number
  default     = 32

  validation {
    condition     = var.fanout_concurrency >= 1 && var.fanout_concurrency <= 1000 && floor(var.fanout_concurrency) == var.fanout_concurrency
    error_message = "The fanout_concurrency must be a whole number between 1 and 1000."
  }
}

variable "connection_limits" {
  description = "What one connection may send before its frames are refused with RATE_LIMITED: frames and bytes per second, each with a burst, and the refusals per minute after which it is closed (CONNECTION_* variables, src/frame-limiter.ts)."
  type = object({
    frames_per_second    = optional(number, 50)
    frame_burst          = optional(number, 50)
    bytes_per_second     = optional(number, 262144)
    byte_burst           = optional(number, 1048576)
    close_after_refusals = optional(number, 100)
  })
  default = {}

  validation {
    condition = alltrue([
      for value in values(var.connection_limits) : value >= 1 && floor(value) == value
    ])
    error_message = "Every connection_limits value must be a whole number of at least 1."
  }

  validation {
    condition     = var.connection_limits.byte_burst >= 32768
    error_message = "The connection_limits.byte_burst must be at least 32768 (one frame of API Gateway's largest), or such a frame could never pass."
  }
}

variable "max_connections_per_user" {
  description = "MAX_CONNECTIONS_PER_USER: $connect refuses (429) a user's connection past this many."
  type        = number
  default     = 20

  validation {
    condition     = var.max_connections_per_user >= 1 && var.max_connections_per_user <= 10000 && floor(var.max_connections_per_user) == var.max_connections_per_user
    error_message = "The max_connections_per_user must be a whole number between 1 and 10000."
  }
}

variable "max_rooms_per_connection" {
  description = "MAX_ROOMS_PER_CONNECTION: subscribe refuses (TOO_MANY_ROOMS) a connection's room past this many. Each room held is a member of the connection record's set (every write to the record pays for its size: 100 rooms of 64-character ids make a 7 KB record) and a counter each heartbeat reads."
  type        = number
  default     = 100

  validation {
    condition     = var.max_rooms_per_connection >= 1 && var.max_rooms_per_connection <= 1000 && floor(var.max_rooms_per_connection) == var.max_rooms_per_connection
    error_message = "The max_rooms_per_connection must be a whole number between 1 and 1000."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of roomcast's own metrics (POWERTOOLS_METRICS_NAMESPACE), e.g. DeliveriesFailed. Use a distinct one per deployment in an account."
  type        = string
  default     = "roomcast"

  validation {
    condition     = can(regex("^[A-Za-z0-9 .\\-_/#:]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "The metrics_namespace must be 1-255 letters, digits, spaces or . - _ / # : (CloudWatch's rule) and must not start with \"AWS/\"."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Fan-out tier: big rooms delivered by the fan-out-worker function (README, "Fan-out tier")
# ---------------------------------------------------------------------------------------------------------------------

variable "fanout_workers_enabled" {
  description = "Whether send-message hands the delivery of rooms bigger than fanout_threshold to the fan-out-worker function (FANOUT_WORKER_FUNCTION). False leaves FANOUT_WORKER_FUNCTION unset and takes lambda:InvokeFunction from send-message, so the sender posts to every room itself; the worker, its failure queue and its alarms stay deployed, idle."
  type        = bool
  default     = true
}

variable "fanout_threshold" {
  description = "FANOUT_THRESHOLD: rooms with more connections than this are delivered by fan-out workers. Up to it, the send-message invocation posts to every member itself, with no extra hop. Above it, the room is split in shards of fanout_shard_size connections, each posted by one asynchronous worker invocation, all in parallel: a big room is done sooner, for a hand-off per shard (a Lambda request and the worker's duration) and Lambda's queue delay before the first post. A worker that Lambda retries posts its whole shard again, so a member may get a message twice; the client SDK drops the copy by its seq."
  type        = number
  default     = 500

  validation {
    condition     = var.fanout_threshold >= 1 && var.fanout_threshold <= 50000 && floor(var.fanout_threshold) == var.fanout_threshold
    error_message = "The fanout_threshold must be a whole number between 1 and 50000."
  }
}

variable "fanout_shard_size" {
  description = "FANOUT_SHARD_SIZE: connections one fan-out worker invocation posts to (their ids travel in its payload). Smaller shards finish sooner and a retry posts fewer twice, but cost more invocations, and more of them post at once (each with fanout_concurrency posts in flight)."
  type        = number
  default     = 500

  validation {
    condition     = var.fanout_shard_size >= 1 && var.fanout_shard_size <= 2000 && floor(var.fanout_shard_size) == var.fanout_shard_size
    error_message = "The fanout_shard_size must be a whole number between 1 and 2000."
  }
}

variable "fanout_tier_concurrency" {
  description = "FANOUT_TIER_CONCURRENCY: posts in flight across all the fan-out workers of one message; each worker gets an equal share (at least 1, at most fanout_concurrency). The default, 240, asks for 16,000 posts/s at a 15 ms round trip of API Gateway's default account throttle on @connections calls (10,000 requests/s with a 5,000 burst, shared by every API of the account and region), which lets a room of up to about 13,000 through without a 429. More only buys 429s, which are retried with back-off. Raise it with that quota."
  type        = number
  default     = 240

  validation {
    condition     = var.fanout_tier_concurrency >= 1 && var.fanout_tier_concurrency <= 100000 && floor(var.fanout_tier_concurrency) == var.fanout_tier_concurrency
    error_message = "The fanout_tier_concurrency must be a whole number between 1 and 100000."
  }
}

variable "fanout_worker_memory_mb" {
  description = "Memory of the fan-out-worker function. Lambda gives CPU in proportion to memory, and a worker signs and sends one post per connection of its shard."
  type        = number
  default     = 512

  validation {
    condition     = var.fanout_worker_memory_mb >= 128 && var.fanout_worker_memory_mb <= 10240 && floor(var.fanout_worker_memory_mb) == var.fanout_worker_memory_mb
    error_message = "The fanout_worker_memory_mb must be a whole number between 128 and 10240."
  }
}

variable "fanout_worker_timeout_seconds" {
  description = "Timeout of the fan-out-worker function, at least 20 s. A shard takes about fanout_shard_size / its share of posts in flight round trips, after a back-off of up to 3 s when it is a retry. A worker stops taking connections 15 s before its timeout and hands the rest to a new invocation, so the timeout itself is reached only by a hang; Lambda then runs the whole shard again."
  type        = number
  default     = 60

  validation {
    condition     = var.fanout_worker_timeout_seconds >= 20 && var.fanout_worker_timeout_seconds <= 900 && floor(var.fanout_worker_timeout_seconds) == var.fanout_worker_timeout_seconds
    error_message = "The fanout_worker_timeout_seconds must be a whole number between 20 and 900: a worker keeps its last 15 s to hand on what it did not reach."
  }
}

variable "fanout_worker_reserved_concurrency" {
  description = "Reserved concurrency of the fan-out-worker function; null reserves none. It bounds the posts in flight across all workers (this times fanout_concurrency) against API Gateway's account-wide throttle of 10,000 @connections requests per second, which every API of the account and region shares (one worker at 32 in flight and about 5 ms a post sends about 6,400 a second). Shards beyond it wait in Lambda's queue, at most fanout_worker_max_event_age_seconds. Reserving takes that much from the account's unreserved concurrency, which every other function shares."
  type        = number
  default     = null

  validation {
    condition     = var.fanout_worker_reserved_concurrency == null || (coalesce(var.fanout_worker_reserved_concurrency, 1) >= 1 && floor(coalesce(var.fanout_worker_reserved_concurrency, 1)) == coalesce(var.fanout_worker_reserved_concurrency, 1))
    error_message = "The fanout_worker_reserved_concurrency must be null or a whole number >= 1 (0 would drop every shard; set fanout_workers_enabled = false instead)."
  }
}

variable "fanout_worker_retry_attempts" {
  description = "Times Lambda retries a fan-out worker invocation that failed (threw, timed out, or could not hand its failed posts on). Each retry posts the whole shard again: members already posted to get the message twice, which the client SDK drops. A shard whose retries all failed goes to the failure queue."
  type        = number
  default     = 2

  validation {
    condition     = contains([0, 1, 2], var.fanout_worker_retry_attempts)
    error_message = "The fanout_worker_retry_attempts must be 0, 1 or 2 (Lambda's range)."
  }
}

variable "fanout_worker_max_event_age_seconds" {
  description = "How long a shard may wait in Lambda's asynchronous queue (throttled, or between retries) before Lambda gives up on it and sends it to the failure queue. A live message is stale after minutes: members read it from history on their next ping."
  type        = number
  default     = 900

  validation {
    condition     = var.fanout_worker_max_event_age_seconds >= 60 && var.fanout_worker_max_event_age_seconds <= 21600 && floor(var.fanout_worker_max_event_age_seconds) == var.fanout_worker_max_event_age_seconds
    error_message = "The fanout_worker_max_event_age_seconds must be a whole number between 60 and 21600 (Lambda's range)."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# The admin function: what operators invoke with `roomcast publish` and `roomcast revoke` (README, "Admin function")
# ---------------------------------------------------------------------------------------------------------------------

variable "admin_timeout_seconds" {
  description = "Timeout of the admin function, which operators invoke synchronously (roomcast publish, roomcast revoke). No API Gateway waits for it; a publish to a room up to fanout_threshold (or any room, with fanout_workers_enabled = false) posts to every member itself, a revoke closes each connection of the user, and a stats run (roomcast stats, the connections gauge) scans user_id-index and the subscriptions table, a 1 MB page after another."
  type        = number
  default     = 30

  validation {
    condition     = var.admin_timeout_seconds >= 1 && var.admin_timeout_seconds <= 900 && floor(var.admin_timeout_seconds) == var.admin_timeout_seconds
    error_message = "The admin_timeout_seconds must be a whole number between 1 and 900."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# The connections gauge: the admin function's stats on a schedule, as metrics (README, "Connections gauge")
# ---------------------------------------------------------------------------------------------------------------------

variable "connection_stats_enabled" {
  description = "Run the admin function's stats on connection_stats_schedule (an EventBridge rule) to publish ActiveConnections, ActiveRooms, LargestRoomConnections and RoomConnections, with the connections-drop and connection-stats-missing alarms on them. Each run scans user_id-index and the subscriptions table (README, cost of the gauge). False creates neither the rule, its permission to invoke the admin function, nor the two alarms; `roomcast stats` still counts on demand."
  type        = bool
  default     = true
}

variable "connection_stats_schedule" {
  description = "EventBridge schedule expression of the connections gauge: rate(1 minute) (the default), rate(N minutes|hours) up to 12 hours, or cron(minutes hours day-of-month month day-of-week year). The connection-stats-missing alarm waits twice a rate's interval (at least 5 minutes) before it fires; with a cron expression it waits 5 minutes."
  type        = string
  default     = "rate(1 minute)"

  # EventBridge's forms: rate(value unit), singular for 1 and plural above; cron() with six fields. A rate over 12
  # hours would need the missing alarm to wait longer than CloudWatch's day of evaluation.
  validation {
    condition = (
      can(regex("^cron\\(\\S+( \\S+){5}\\)$", var.connection_stats_schedule)) || (
        can(regex("^rate\\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\\)$", var.connection_stats_schedule)) &&
        try(tonumber(regex("^rate\\(([0-9]+) ", var.connection_stats_schedule)[0]) * (strcontains(var.connection_stats_schedule, "minute") ? 1 : strcontains(var.connection_stats_schedule, "hour") ? 60 : 1440) <= 720, false)
      )
    )
    error_message = "The connection_stats_schedule must be an EventBridge schedule expression: rate(1 minute), rate(N minutes) or rate(N hours) of at most 12 hours (the unit singular for 1, plural above), or cron(minutes hours day-of-month month day-of-week year)."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Connect tokens: set exactly one of jwt_secret, jwt_secret_ssm_parameter, jwt_jwks_url
# ---------------------------------------------------------------------------------------------------------------------

variable "jwt_secret" {
  description = "HS256 secret (>= 32 characters) the $connect function verifies tokens with. It ends up in the Terraform state and the function's environment; prefer jwt_secret_ssm_parameter or jwt_jwks_url."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.jwt_secret == null || length(coalesce(var.jwt_secret, "x")) >= 32
    error_message = "The jwt_secret must be at least 32 characters."
  }
}

variable "jwt_secret_ssm_parameter" {
  description = "Name (or ARN) of an SSM Parameter Store SecureString holding the HS256 secret; read at plan time and passed to the $connect function as JWT_SECRET."
  type        = string
  default     = null

  # SSM's rules for a parameter name: up to 2048 characters of letters, digits and _ . - /, not starting with
  # "aws" or "ssm" (any case), and a hierarchy starts with "/"; or a Secrets Manager secret read through Parameter
  # Store (/aws/reference/secretsmanager/<secret>). Terraform's regex engine refuses repeat counts over 1000, so the
  # length is checked with length(), not {1,2048}.
  validation {
    condition = var.jwt_secret_ssm_parameter == null || (
      length(coalesce(var.jwt_secret_ssm_parameter, "-")) <= 2048 && (
        can(regex("^arn:aws[a-z-]*:ssm:[a-z0-9-]+:[0-9]{12}:parameter/[A-Za-z0-9_./-]+$", var.jwt_secret_ssm_parameter)) ||
        can(regex("^/aws/reference/secretsmanager/[A-Za-z0-9/_+=.@-]+$", var.jwt_secret_ssm_parameter)) || (
          can(regex("^[A-Za-z0-9_./-]+$", var.jwt_secret_ssm_parameter)) &&
          !can(regex("(?i)^/?(aws|ssm)", var.jwt_secret_ssm_parameter)) &&
          (startswith(coalesce(var.jwt_secret_ssm_parameter, "-"), "/") || !strcontains(coalesce(var.jwt_secret_ssm_parameter, "-"), "/"))
        )
      )
    )
    error_message = "The jwt_secret_ssm_parameter must be an SSM parameter name (up to 2048 letters, digits, '_', '.', '-' or '/'; a path starts with '/'; not beginning with \"aws\" or \"ssm\"), e.g. /roomcast/jwt-secret, a parameter ARN, or /aws/reference/secretsmanager/<secret>."
  }
}

variable "jwt_jwks_url" {
  description = "JWKS URL of an identity provider (Cognito, Auth0, ...) for RS256/ES256 tokens."
  type        = string
  default     = null

  validation {
    condition     = var.jwt_jwks_url == null || can(regex("^https://[A-Za-z0-9.-]+(:[0-9]+)?(/[^\\s]*)?$", var.jwt_jwks_url))
    error_message = "The jwt_jwks_url must be an https:// URL with a host, e.g. https://idp.example.com/.well-known/jwks.json."
  }
}

variable "jwt_issuer" {
  description = "Required `iss` claim of connect tokens (JWT_ISSUER); null accepts any."
  type        = string
  default     = null
}

variable "jwt_audience" {
  description = "Required `aud` claim of connect tokens (JWT_AUDIENCE); null accepts any."
  type        = string
  default     = null
}

variable "jwt_algorithms" {
  description = "Accepted token algorithms (JWT_ALGORITHMS); null means HS256 with a secret, RS256 and ES256 with a JWKS URL."
  type        = list(string)
  default     = null

  validation {
    condition     = var.jwt_algorithms == null || alltrue([for alg in coalesce(var.jwt_algorithms, []) : contains(["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"], alg)])
    error_message = "The jwt_algorithms must be JWS algorithm names (HS256, RS256, ES256, EdDSA, ...); never \"none\"."
  }
}

variable "token_max_lifetime_seconds" {
  description = "TOKEN_MAX_LIFETIME_SECONDS: the longest a connect token may live (exp - iat). $connect refuses a token that would live longer, and a revocation (roomcast revoke) is kept this long, so no token it refuses can outlive it. Tokens need exp and iat to fit under it."
  type        = number
  default     = 86400

  validation {
    condition     = var.token_max_lifetime_seconds >= 1 && var.token_max_lifetime_seconds <= 2592000 && floor(var.token_max_lifetime_seconds) == var.token_max_lifetime_seconds
    error_message = "The token_max_lifetime_seconds must be a whole number between 1 and 2592000 (30 days)."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Alarms
# ---------------------------------------------------------------------------------------------------------------------

variable "alarm_email" {
  description = "Email address subscribed to the alarm topic (confirm the subscription email AWS sends). Null: no subscription."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_email == null || can(regex("^[^@\\s]+@[^@\\s]+$", var.alarm_email))
    error_message = "The alarm_email must be an email address."
  }
}

variable "alarm_topic_arn" {
  description = "Existing SNS topic for alarm and OK notifications. Null: a topic is created when alarm_email is set, and alarms notify nobody otherwise."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:[a-z-]+:sns:", var.alarm_topic_arn))
    error_message = "The alarm_topic_arn must be an SNS topic ARN."
  }
}

variable "connect_count_alarm_threshold" {
  description = "Alarm when more connection attempts than this arrive in one minute (ConnectCount). The default is half of the default account quota of 500 new connections per second."
  type        = number
  default     = 15000

  validation {
    condition     = var.connect_count_alarm_threshold > 0
    error_message = "The connect_count_alarm_threshold must be > 0."
  }
}

variable "integration_error_alarm_threshold" {
  description = "Alarm when the stage counts more integration errors than this in 5 minutes (IntegrationError)."
  type        = number
  default     = 25

  validation {
    condition     = var.integration_error_alarm_threshold >= 0
    error_message = "The integration_error_alarm_threshold must be >= 0."
  }
}

variable "delivery_failure_alarm_threshold" {
  description = "Alarm when more deliveries than this fail in 5 minutes (DeliveriesFailed: PostToConnection errors other than 410 Gone, after retries)."
  type        = number
  default     = 10

  validation {
    condition     = var.delivery_failure_alarm_threshold >= 0
    error_message = "The delivery_failure_alarm_threshold must be >= 0."
  }
}

variable "connections_drop_alarm_fraction" {
  description = "Alarm when this share of the live connections (ActiveConnections, the connections gauge) or more was lost since the previous reading, e.g. 0.5: half of them gone within a minute. Needs connection_stats_enabled."
  type        = number
  default     = 0.5

  validation {
    condition     = var.connections_drop_alarm_fraction > 0 && var.connections_drop_alarm_fraction <= 1
    error_message = "The connections_drop_alarm_fraction must be greater than 0 and at most 1 (a share of the live connections)."
  }
}

variable "connections_drop_alarm_min_connections" {
  description = "The connections-drop alarm only looks at readings whose previous reading had at least this many live connections: on a small deployment a few users leaving is no outage."
  type        = number
  default     = 100

  validation {
    condition     = var.connections_drop_alarm_min_connections >= 1 && floor(var.connections_drop_alarm_min_connections) == var.connections_drop_alarm_min_connections
    error_message = "The connections_drop_alarm_min_connections must be a whole number of at least 1."
  }
}
