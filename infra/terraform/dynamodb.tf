# The connections registry, exactly as src/store/tables.ts defines it (test/infra holds this file to it). One item per
# open connection: { connection_id, user_id, ttl (epoch seconds), created_at, rooms (string set: the rooms it holds,
# absent when none), allowed_rooms (the token's rooms claim), connect_room_id, joined_seq, joined_direct_seq }.
# `rooms` bounds a connection's subscriptions (a conditional update), authorizes its room frames, and tells
# $disconnect and the pruning of gone connections which subscriptions to delete. Records written before
# subscriptions have one `room_id` instead; the first frame of such a connection moves it into `rooms`.
resource "aws_dynamodb_table" "connections" {
  name         = "${var.name_prefix}-chat_connections"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "connection_id"

  # Key attributes only (the table's and the index's): DynamoDB rejects attribute definitions no key uses, so
  # `ttl`, `created_at` and `rooms` are not declared, and need not be.
  attribute {
    name = "connection_id"
    type = "S"
  }

  attribute {
    name = "user_id"
    type = "S"
  }

  # Direct messages and the per-user connection cap read the connection ids of a user, filtering on `ttl`.
  # `room_id` is projected because records written before subscriptions had it; changing the projection would
  # rebuild the index, so it stays (new records do not have it, so it costs nothing).
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

# Who is in which room, exactly as src/store/tables.ts defines it: one item per room a connection holds,
# { room_id, connection_id, user_id, ttl (the connection record's), created_at }. Keyed by room, so a broadcast,
# presence or listMembers is one strongly consistent Query of the base table: a subscription is visible to the next
# fan-out as soon as its write returns, which no index gives (GSI reads are eventually consistent). No index the
# other way: the rooms of a connection are on its record (`rooms`), which $disconnect reads to delete these items.
resource "aws_dynamodb_table" "subscriptions" {
  name         = "${var.name_prefix}-chat_subscriptions"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "room_id"
  range_key    = "connection_id"

  attribute {
    name = "room_id"
    type = "S"
  }

  attribute {
    name = "connection_id"
    type = "S"
  }

  # The connection's TTL: items a missed $disconnect left behind expire with their record. TTL deletion can lag
  # for days, so room queries also filter on `ttl`.
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

# Revoked users and tokens, exactly as src/store/tables.ts defines it: one item per revocation `roomcast revoke`
# (the admin function) writes, { subject, revoked_at, ttl, accepts_issued_from (a user's) }: `user#<id>` refuses the
# user's tokens issued before its time, `jti#<id>` one token whatever its time. $connect reads a token's two with
# one strongly consistent BatchGetItem (src/store/revocations.ts). No index: nothing lists them.
resource "aws_dynamodb_table" "revocations" {
  name         = "${var.name_prefix}-chat_revocations"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "subject"

  attribute {
    name = "subject"
    type = "S"
  }

  # The revocation's time + token_max_lifetime_seconds: by then no token it refuses is still valid, since $connect
  # refuses tokens that live longer. TTL deletion can lag for days, so $connect ignores an item past its ttl.
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
