"""The beian domain: filings, documents, the archive and its rules.

Nothing in this package imports boto3 or chalice, except the AWS adapter in
``adapters/aws.py``, which is loaded only when the AWS backend is configured.
"""
