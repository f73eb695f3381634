# The connections registry, exactly as src/store/tables.ts defines it (test/infra holds this file to it).
# Items: { connection_id, room_id, user_id, ttl (epoch seconds), created_at }.
resource "aws_dynamodb_table" "connections" {
  name         = "${var.name_prefix}-chat_connections"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "connection_id"

  # Key attributes only (the table's and the indexes'): DynamoDB rejects attribute definitions no key uses, so
  # `ttl` and `created_at` are not declared, and need not be.
  attribute {
    name = "connection_id"
    type = "S"
  }

  attribute {
    name = "room_id"
    type = "S"
  }

  attribute {
    name = "user_id"
    type = "S"
  }

  # Broadcast (sendMessage) reads the connection ids of a room and drops expired records with `#ttl > :now`;
  # listMembers also needs `user_id`. The keys (room_id, connection_id) are always projected. Index queries are
  # eventually consistent (0.5 RRU per 4 KB read), so ~100-150 B entries make one read unit per ~50 members.
  global_secondary_index {
    name               = "room_id-index"
    hash_key           = "room_id"
    projection_type    = "INCLUDE"
    non_key_attributes = ["ttl", "user_id"]
  }

  # Direct messages read the connection ids of a user, filtering on `ttl`; `room_id` tells which rooms they are in.
  global_secondary_index {
    name               = "user_id-index"
    hash_key           = "user_id"
    projection_type    = "INCLUDE"
    non_key_attributes = ["ttl", "room_id"]
  }

  # Records whose $disconnect never came. TTL deletion can lag for days, so reads also filter on `ttl`.
  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.table_kms_key_arn
  }

  deletion_protection_enabled = var.deletion_protection

  lifecycle {
    precondition {
      condition     = var.table_kms_key_arn == null || split(":", coalesce(var.table_kms_key_arn, "::::"))[3] == data.aws_region.current.region
      error_message = "The table_kms_key_arn must be a key in the tables' region (${data.aws_region.current.region})."
    }
  }
}

# Chat history, exactly as src/store/tables.ts defines it. Messages are stored before they are delivered, in
# streams ordered by seq, so a client that reconnects catches up with one Query. Partitions (src/store/messages.ts):
# a room, `inbox#<user>` for direct messages, `seq#<stream>` for a stream's counter, `idem#…` for the idempotency
# marker of one client_msg_id. Changing this key replaces the table, and its history with it.
resource "aws_dynamodb_table" "messages" {
  name         = "${var.name_prefix}-chat_messages"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "stream"
  range_key    = "seq"

  attribute {
    name = "stream"
    type = "S"
  }

  # 1, 2, 3, … per stream: a Query for seq > n is a catch-up.
  attribute {
    name = "seq"
    type = "N"
  }

  # now + message_retention_days; history reads also filter on it.
  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.table_kms_key_arn
  }

  deletion_protection_enabled = var.deletion_protection

  lifecycle {
    precondition {
      condition     = var.table_kms_key_arn == null || split(":", coalesce(var.table_kms_key_arn, "::::"))[3] == data.aws_region.current.region
      error_message = "The table_kms_key_arn must be a key in the tables' region (${data.aws_region.current.region})."
    }
  }
}
