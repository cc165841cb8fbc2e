"""Serverless entry points (AWS Lambda SNS, Google Cloud Functions Pub/Sub) onto the one ingestion path."""
