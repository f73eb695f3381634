terraform {
  required_version = ">= 1.6"

  required_providers {
    # Exact versions: test/infra/provider-schema.json holds these providers' schemas, and npm test checks every
    # resource against them. 6.29 and later refuse GSIs declared with hash_key alone ("all indexes must match a
    # defined attribute"); see the README before moving.
    aws = {
      source  = "hashicorp/aws"
      version = "6.25.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = "2.7.1"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge(
      {
        Application = "roomcast"
        ManagedBy   = "terraform"
      },
      var.tags,
    )
  }
}
