"""The AWS backend: one DynamoDB table, S3 with Object Lock, KMS and SNS.

Imported only when BEIAN_BACKEND=aws. Clients are made on first use; boto3 itself
honours AWS_ENDPOINT_URL (moto, LocalStack), so nothing here reads it.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .. import ports
from ..config import Settings
from . import shared

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        KeysAndAttributesTypeDef,
        PutTypeDef,
        TransactWriteItemTypeDef,
    )
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import HeadObjectOutputTypeDef
    from mypy_boto3_sns import SNSClient

    Item = Mapping[str, AttributeValueTypeDef]

_MISSING = {"NoSuchKey", "404", "NotFound"}
_LOST_RACE = {"ConditionalCheckFailed", "TransactionConflict"}
_BATCH_GET = 100
_BATCH_ATTEMPTS = 6


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


# One session per process loads each service's model once, so later clients are cheap.
# A session is not thread-safe (the clients it makes are): make clients under the lock.
_SESSION_LOCK = threading.Lock()


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


def _client_on_first_use(service: str) -> Any:
    """A cached property that makes the boto3 client of ``service`` on first use."""

    def make(clients: AwsClients) -> Any:
        with _SESSION_LOCK:
            # The stubs type each service by its literal name; the property's annotation types the client.
            return _session().client(service, config=clients.config)  # type: ignore[call-overload]

    return functools.cached_property(make)


class AwsClients:
    """The boto3 clients of one configuration, each made on first use."""

    dynamodb: DynamoDBClient = _client_on_first_use("dynamodb")
    s3: S3Client = _client_on_first_use("s3")
    kms: KMSClient = _client_on_first_use("kms")
    sns: SNSClient = _client_on_first_use("sns")

    def __init__(self, settings: Settings) -> None:
        self.config = Config(signature_version="s3v4", region_name=settings.region,
                             retries={"max_attempts": 3, "mode": "standard"})

    def close(self) -> None:
        """Close the connection pools of the clients made so far; the next use makes new ones."""
        for name, attribute in vars(AwsClients).items():
            client = self.__dict__.pop(name, None) if isinstance(attribute, functools.cached_property) else None
            if client is not None:
                client.close()


# --- Records and audit (DynamoDB) ---------------------------------------------------


def _s(value: str) -> AttributeValueTypeDef:
    return {"S": value}


def _record_key(kind: str, key: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": _s(f"{kind}#{key}"), "sk": _s("record")}


def _entry_item(entry: ports.IndexEntry, kind: str, key: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": _s(f"idx#{entry.index}#{entry.value}"), "sk": _s(f"{entry.sort}#{kind}#{key}")}


def _item_record(item: Item) -> ports.Record:
    return ports.Record(item["kind"]["S"], item["key"]["S"], json.loads(item["body"]["S"]),
                        int(item["version"]["N"]), shared.decode_indexes(item["indexes"]["S"]))


def _guarded(version: int, **operation: Any) -> Any:
    """A transaction Put or Delete of a record item that holds only at ``version``."""
    # Stored versions start at 1: for an insert only the first test can hold.
    condition = ("attribute_not_exists(#v) OR " if version == 0 else "") + "#v = :v"
    return {**operation, "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":v": {"N": str(version)}}}


class DynamoRecords:
    """A record item (pk "kind#key", sk "record") and one item per index entry (pk
    "idx#index#value", sk "sort#kind#key"), written together in one transaction."""

    def __init__(self, clients: AwsClients, table: str) -> None:
        self._clients = clients
        self._table = table

    def get(self, kind: str, key: str) -> ports.Record | None:
        item = self._clients.dynamodb.get_item(
            TableName=self._table, Key=_record_key(kind, key), ConsistentRead=True).get("Item")
        return None if item is None else _item_record(item)

    def lists(self, entry: ports.IndexEntry, kind: str, key: str) -> bool:
        return "Item" in self._clients.dynamodb.get_item(
            TableName=self._table, Key=_entry_item(entry, kind, key), ConsistentRead=True,
            ProjectionExpression="pk")

    def save(self, record: ports.Record) -> ports.Record:
        shared.check_record_names(record.kind, record.key, record.indexes)
        old = self._stored_entries(record) if record.version else set()
        new = set(record.indexes)
        saved = dataclasses.replace(record, version=record.version + 1)
        item = {**_record_key(record.kind, record.key), "kind": _s(record.kind),
                "key": _s(record.key), "version": {"N": str(saved.version)},
                "body": _s(shared.dump_json(record.body)), "indexes": _s(shared.encode_indexes(record.indexes))}
        writes: list[TransactWriteItemTypeDef] = [
            {"Put": _guarded(record.version, TableName=self._table, Item=item)}]
        # Unchanged entries stay as they are: a transaction may touch an item only once.
        writes += [{"Delete": {"TableName": self._table,
                               "Key": _entry_item(entry, record.kind, record.key)}}
                   for entry in old - new]
        writes += [{"Put": {"TableName": self._table, "Item": {
                        **_entry_item(entry, record.kind, record.key), "kind": _s(record.kind),
                        "key": _s(record.key), "sort": _s(entry.sort)}}}
                   for entry in new - old]
        self._transact(writes, record)
        return saved

    def insert_many(self, records: Iterable[ports.Record]) -> int:
        # DynamoDB has no transaction over a million items: each record goes in its own
        # (conditional) transaction, so the ones before a conflict stay stored.
        count = 0
        for record in records:
            if record.version != 0:
                raise ports.VersionConflict(f"{record.kind}/{record.key}: insert_many takes new records")
            self.save(record)
            count += 1
        return count

    def delete(self, record: ports.Record) -> None:
        entries = self._stored_entries(record)
        writes: list[TransactWriteItemTypeDef] = [{"Delete": _guarded(
            record.version, TableName=self._table, Key=_record_key(record.kind, record.key))}]
        writes += [{"Delete": {"TableName": self._table,
                               "Key": _entry_item(entry, record.kind, record.key)}}
                   for entry in entries]
        self._transact(writes, record)

    def _stored_entries(self, record: ports.Record) -> set[ports.IndexEntry]:
        """The index entries stored with ``record.version``; the transaction's condition
        makes sure they are still the stored ones when it commits."""
        stored = self.get(record.kind, record.key)
        if stored is None or stored.version != record.version:
            raise ports.VersionConflict(f"{record.kind}/{record.key} is not at version {record.version}")
        return set(stored.indexes)

    def _transact(self, writes: list[TransactWriteItemTypeDef], record: ports.Record) -> None:
        try:
            self._clients.dynamodb.transact_write_items(TransactItems=writes)
        except ClientError as error:
            reasons = {reason.get("Code") for reason in
                       error.response.get("CancellationReasons", [])}
            if error_code(error) == "TransactionCanceledException" and reasons & _LOST_RACE:
                raise ports.VersionConflict(f"{record.kind}/{record.key} was saved by someone else") \
                    from error
            raise

    def query(self, index: str, value: str, *, sort_from: str = "", sort_to: str = "\uffff",
              limit: int = 100, after: str | None = None) -> ports.Page:
        shared.check_query(index, sort_from, sort_to, limit)
        # Sort values hold no character up to "#", so "sort_to#\uffff" is above every entry
        # sorting at sort_to and below every later one. DynamoDB refuses an empty bound.
        values: dict[str, AttributeValueTypeDef] = {
            ":pk": _s(f"idx#{index}#{value}"), ":hi": _s(f"{sort_to}#\uffff")}
        condition = "pk = :pk AND sk <= :hi"
        if sort_from:
            values[":lo"] = _s(sort_from)
            condition = "pk = :pk AND sk BETWEEN :lo AND :hi"
        start: dict[str, Any] = {}
        if after is not None:
            pk, sk = shared.decode_cursor(after, 2)
            if pk != values[":pk"]["S"]:  # DynamoDB would refuse it as a server error
                raise ports.BadCursor("cursor of another query")
            start["ExclusiveStartKey"] = {"pk": _s(pk), "sk": _s(sk)}
        # One item more than asked tells whether another page exists.
        reply = self._clients.dynamodb.query(
            TableName=self._table, KeyConditionExpression=condition,
            ExpressionAttributeValues=values, Limit=limit + 1, ConsistentRead=True, **start)
        items = reply["Items"]
        page = items[:limit]
        last = page[-1] if len(items) > limit else reply.get("LastEvaluatedKey")
        cursor = shared.encode_cursor([last["pk"]["S"], last["sk"]["S"]]) if last else None
        found = self._batch_get([(item["kind"]["S"], item["key"]["S"]) for item in page])
        records = []
        for item in page:
            record = found.get((item["kind"]["S"], item["key"]["S"]))
            # Skip records deleted or re-indexed between the query and the read.
            if record is not None and ports.IndexEntry(index, value, item["sort"]["S"]) in record.indexes:
                records.append(record)
        return ports.Page(records, cursor, examined=reply["ScannedCount"])

    def scan(self, *, limit: int = 500, after: str | None = None) -> ports.Page:
        start: dict[str, Any] = {}
        if after is not None:
            pk, sk = shared.decode_cursor(after, 2)
            start["ExclusiveStartKey"] = {"pk": _s(pk), "sk": _s(sk)}
        # Limit counts the items read, index and audit items included; the filter keeps records.
        reply = self._clients.dynamodb.scan(
            TableName=self._table, FilterExpression="sk = :record",
            ExpressionAttributeValues={":record": _s("record")}, Limit=limit, ConsistentRead=True, **start)
        last = reply.get("LastEvaluatedKey")
        cursor = shared.encode_cursor([last["pk"]["S"], last["sk"]["S"]]) if last else None
        return ports.Page([_item_record(item) for item in reply["Items"]], cursor, examined=reply["ScannedCount"])

    def _batch_get(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], ports.Record]:
        wanted = list(dict.fromkeys(keys))
        found: dict[tuple[str, str], ports.Record] = {}
        for first in range(0, len(wanted), _BATCH_GET):
            request: Mapping[str, KeysAndAttributesTypeDef] = {self._table: {
                "Keys": [_record_key(kind, key) for kind, key in wanted[first:first + _BATCH_GET]],
                "ConsistentRead": True}}
            for attempt in range(_BATCH_ATTEMPTS):
                reply = self._clients.dynamodb.batch_get_item(RequestItems=request)
                for item in reply["Responses"].get(self._table, []):
                    record = _item_record(item)
                    found[(record.kind, record.key)] = record
                request = cast("Mapping[str, KeysAndAttributesTypeDef]",
                               reply.get("UnprocessedKeys") or {})
                if not request:
                    break
                # DynamoDB returns unprocessed keys under load: back off, as its docs ask.
                time.sleep(0.05 * 2**attempt)
            else:
                raise ports.StorageError("DynamoDB kept records unprocessed")
        return found


def _audit_item(partition: str, seq: int, entry: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    return {"pk": _s(partition), "sk": _s(f"{seq:020d}"), "entry": _s(shared.dump_json(entry))}


class DynamoAudit:
    """Entries under pk "audit", sk the zero-padded sequence number; an entry appended by
    action has a copy under pk "audit#<action>" with the same sk, put in the same transaction
    (the functions' roles may delete neither)."""

    def __init__(self, clients: AwsClients, table: str) -> None:
        self._clients = clients
        self._table = table

    def append(self, seq: int, entry: Mapping[str, Any], *, by_action: bool = False) -> None:
        shared.check_seq(seq)
        put: PutTypeDef = {"TableName": self._table, "Item": _audit_item("audit", seq, entry),
                           "ConditionExpression": "attribute_not_exists(pk)"}
        try:
            if by_action:
                self._clients.dynamodb.transact_write_items(TransactItems=[
                    {"Put": put},
                    {"Put": {"TableName": self._table, "Item": _audit_item(f"audit#{entry['action']}", seq, entry)}}])
            else:
                self._clients.dynamodb.put_item(**put)
        except ClientError as error:
            reasons = {reason.get("Code") for reason in error.response.get("CancellationReasons", [])}
            if error_code(error) == "ConditionalCheckFailedException" or reasons & _LOST_RACE:
                raise ports.VersionConflict(f"audit sequence number {seq} is taken") from error
            raise

    def last(self) -> tuple[int, Mapping[str, Any]] | None:
        items = self._clients.dynamodb.query(
            TableName=self._table, KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _s("audit")},
            ScanIndexForward=False, Limit=1, ConsistentRead=True)["Items"]
        return (int(items[0]["sk"]["S"]), json.loads(items[0]["entry"]["S"])) if items else None

    def read(self, start: int = 1, end: int | None = None) -> Iterator[Mapping[str, Any]]:
        """Entries ``start`` to ``end`` inclusive, read a page at a time."""
        return self._pages("audit", start, end)

    def read_action(self, action: str, start: int = 1) -> Iterator[Mapping[str, Any]]:
        return self._pages(f"audit#{action}", start, None)

    def list_by_action(self, seq: int) -> None:
        stored = self._clients.dynamodb.get_item(
            TableName=self._table, Key={"pk": _s("audit"), "sk": _s(f"{seq:020d}")}, ConsistentRead=True).get("Item")
        if stored is None:
            raise KeyError(f"no audit entry {seq}")
        entry = json.loads(stored["entry"]["S"])
        self._clients.dynamodb.put_item(TableName=self._table, Item=_audit_item(f"audit#{entry['action']}", seq, entry))

    def _pages(self, partition: str, start: int, end: int | None) -> Iterator[Mapping[str, Any]]:
        pages = self._clients.dynamodb.get_paginator("query").paginate(
            TableName=self._table, KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={":pk": _s(partition), ":lo": _s(f"{start:020d}"),
                                       ":hi": _s("9" * 20 if end is None else f"{end:020d}")},
            ConsistentRead=True, PaginationConfig={"PageSize": shared.AUDIT_PAGE})
        for page in pages:
            yield from (json.loads(item["entry"]["S"]) for item in page["Items"])


# --- Blobs (S3) ---------------------------------------------------------------------


def _head_info(key: str, head: HeadObjectOutputTypeDef) -> ports.BlobInfo:
    until = head.get("ObjectLockRetainUntilDate")
    return ports.BlobInfo(key, head["ContentLength"], until and until.astimezone(UTC),
                          head.get("ObjectLockLegalHoldStatus") == "ON")


class S3Blobs:
    """Uploads land in the staging bucket (expired by lifecycle); promote copies them into
    the archive bucket, where every version is locked in COMPLIANCE mode."""

    def __init__(self, clients: AwsClients, settings: Settings) -> None:
        self._clients = clients
        self._staging = settings.staging_bucket
        self._archive = settings.archive_bucket

    def upload_slot(self, key: str, *, max_bytes: int, expires_in: int) -> ports.UploadSlot:
        shared.check_upload_slot(key, max_bytes, expires_in)
        expires_at = (datetime.now(UTC) + timedelta(seconds=expires_in)).replace(microsecond=0)
        # boto3 adds the exact bucket and key to the policy's conditions itself.
        post = self._clients.s3.generate_presigned_post(
            Bucket=self._staging, Key=key, Conditions=[["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in)
        fields = {name: str(value) for name, value in post["fields"].items()}
        return ports.UploadSlot(post["url"], fields, key, max_bytes, expires_at)

    def upload_parts(self, key: str, *, max_bytes: int, part_size: int, expires_in: int) -> ports.PartsSlot:
        """An S3 multipart upload with a presigned UploadPart URL per part. S3 cannot cap a
        multipart upload's size: complete_parts checks it before joining the parts."""
        shared.check_upload_slot(key, max_bytes, expires_in)
        s3 = self._clients.s3
        upload_id = s3.create_multipart_upload(Bucket=self._staging, Key=key)["UploadId"]
        urls = tuple(
            s3.generate_presigned_url("upload_part", ExpiresIn=expires_in, Params={
                "Bucket": self._staging, "Key": key, "UploadId": upload_id, "PartNumber": part})
            for part in range(1, shared.part_count(max_bytes, part_size) + 1))
        return ports.PartsSlot(upload_id, part_size, urls)

    def complete_parts(self, key: str, upload_id: str, *, max_bytes: int) -> bool:
        s3, bucket = self._clients.s3, self._staging
        shared.check_blob_key(key)

        def abort() -> None:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)

        try:
            parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id, MaxParts=1000).get("Parts", [])
        except ClientError as error:
            if error_code(error) in ("NoSuchUpload", *_MISSING):  # completed before, or aborted
                return False
            raise
        if not parts:
            abort()
            return False
        try:
            shared.check_parts({part["PartNumber"]: part["Size"] for part in parts}, max_bytes)
        except ports.BadUpload:
            abort()
            raise
        try:
            s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={
                "Parts": [{"PartNumber": part["PartNumber"], "ETag": part["ETag"]} for part in parts]})
        except ClientError as error:  # e.g. EntityTooSmall: a part but the last under 5 MiB
            abort()
            raise ports.BadUpload(f"S3 refused the parts: {error_code(error)}") from error
        return True

    def read_staged(self, key: str, length: int) -> tuple[int, bytes]:
        try:
            reply = self._clients.s3.get_object(Bucket=self._staging, Key=shared.check_blob_key(key),
                                                Range=f"bytes=0-{max(length, 1) - 1}")
        except ClientError as error:
            if error_code(error) in _MISSING:
                raise ports.BlobMissing(f"nothing staged at {key}") from error
            raise
        with reply["Body"] as body:
            head = body.read()
        return int(reply["ContentRange"].rsplit("/", 1)[1]), head[:length]

    def list_staged(self, prefix: str = "") -> Iterator[ports.StoredBlob]:
        return self._listing(self._staging, prefix)

    def delete_staged(self, key: str) -> None:
        self._clients.s3.delete_object(Bucket=self._staging, Key=shared.check_blob_key(key))

    def list_archived(self, prefix: str = "") -> Iterator[ports.StoredBlob]:
        return self._listing(self._archive, prefix)

    def _listing(self, bucket: str, prefix: str) -> Iterator[ports.StoredBlob]:
        """Current versions only: a key whose newest version is a delete marker is not listed."""
        for page in self._clients.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield ports.StoredBlob(item["Key"], item["Size"], item["LastModified"].astimezone(UTC))

    def promote(self, key: str, *, retain_until: datetime) -> ports.BlobInfo:
        until = shared.retention_date(retain_until)
        shared.refuse_if_locked(self.info(key))
        # The copy carries its own lock: no unlocked version exists, not even briefly (the
        # bucket policy refuses a write without it). The staged original stays until the
        # copy is in, so a failure here leaves nothing lost and promote can be retried.
        try:
            self._clients.s3.copy_object(
                Bucket=self._archive, Key=key, CopySource={"Bucket": self._staging, "Key": key},
                ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)
        except ClientError as error:
            if error_code(error) in _MISSING:
                raise ports.BlobMissing(f"nothing staged at {key}") from error
            raise
        self._clients.s3.delete_object(Bucket=self._staging, Key=key)
        return self._existing(key)[0]

    def put(self, key: str, data: bytes, *, retain_until: datetime) -> ports.BlobInfo:
        until = shared.retention_date(retain_until)
        shared.refuse_if_locked(self.info(key))
        # Object Lock wants a checksum on uploads that carry a retention period.
        self._clients.s3.put_object(
            Bucket=self._archive, Key=key, Body=data, ChecksumAlgorithm="SHA256",
            ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until)
        return ports.BlobInfo(key, len(data), until)

    def info(self, key: str) -> ports.BlobInfo | None:
        head = self._head(key)
        return None if head is None else _head_info(key, head)

    def open(self, key: str) -> BinaryIO:
        try:
            body = self._clients.s3.get_object(
                Bucket=self._archive, Key=shared.check_blob_key(key))["Body"]
        except ClientError as error:
            if error_code(error) in _MISSING:
                raise ports.BlobMissing(f"nothing archived at {key}") from error
            raise
        # StreamingBody has readinto, all a raw stream needs: stream, never load whole.
        return io.BufferedReader(cast(io.RawIOBase, body))

    def download_url(self, key: str, *, expires_in: int) -> str:
        shared.check_link(key, expires_in)
        # Never served inline: the browser must save it, not render it.
        return self._clients.s3.generate_presigned_url(
            "get_object", ExpiresIn=expires_in,
            Params={"Bucket": self._archive, "Key": key, "ResponseContentType": "application/octet-stream",
                    "ResponseContentDisposition": "attachment"})

    def verify_download(self, query: Mapping[str, str]) -> str:
        raise ValueError("S3 serves its own presigned URLs: no other server grants downloads")

    def extend_retention(self, key: str, retain_until: datetime) -> ports.BlobInfo:
        until = shared.retention_date(retain_until)
        info, version = self._existing(key)
        # COMPLIANCE mode refuses this too; moto does not, so check here.
        if info.retain_until is not None and until < info.retain_until:
            raise ports.BlobLocked(f"{key} is retained until {info.retain_until}: cannot shorten")
        self._lock(key, version, until)
        return dataclasses.replace(info, retain_until=until)

    def set_legal_hold(self, key: str, on: bool) -> ports.BlobInfo:
        info, version = self._existing(key)
        self._clients.s3.put_object_legal_hold(
            Bucket=self._archive, Key=key, VersionId=version,
            LegalHold={"Status": "ON" if on else "OFF"})
        return dataclasses.replace(info, legal_hold=on)

    def delete(self, key: str) -> None:
        """Every version and delete marker, newest first, without any bypass: S3 refuses a
        locked version. Older versions were superseded only once unlocked, so the refusal
        comes before anything is gone."""
        pages = self._clients.s3.get_paginator("list_object_versions").paginate(
            Bucket=self._archive, Prefix=shared.check_blob_key(key))
        versions = [version["VersionId"] for page in pages
                    for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
                    if version["Key"] == key]
        if not versions:
            raise ports.BlobMissing(f"nothing archived at {key}")
        for version in versions:
            try:
                self._clients.s3.delete_object(Bucket=self._archive, Key=key, VersionId=version)
            except ClientError as error:
                if error_code(error) == "AccessDenied":
                    raise ports.BlobLocked(f"{key} is under retention or legal hold") from error
                raise

    def _head(self, key: str) -> HeadObjectOutputTypeDef | None:
        try:
            return self._clients.s3.head_object(Bucket=self._archive, Key=shared.check_blob_key(key))
        except ClientError as error:
            if error_code(error) in _MISSING:
                return None
            raise

    def _existing(self, key: str) -> tuple[ports.BlobInfo, str]:
        """The current version's info and id; raises BlobMissing."""
        head = self._head(key)
        if head is None:
            raise ports.BlobMissing(f"nothing archived at {key}")
        return _head_info(key, head), head["VersionId"]

    def _lock(self, key: str, version: str, until: datetime) -> None:
        self._clients.s3.put_object_retention(
            Bucket=self._archive, Key=key, VersionId=version,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until})


# --- Key custody (KMS) and notifier (SNS) -------------------------------------------


class KmsKeyCustody:
    """KMS Encrypt/Decrypt; the purpose is the encryption context, so a secret sealed for
    one purpose cannot be unsealed for another (and KMS logs which purpose asked)."""

    def __init__(self, clients: AwsClients, key_id: str) -> None:
        self._clients = clients
        self.key_id = key_id

    def seal(self, secret: bytes, purpose: str) -> bytes:
        return self._clients.kms.encrypt(KeyId=self.key_id, Plaintext=secret,
                                         EncryptionContext={"purpose": purpose})["CiphertextBlob"]

    def unseal(self, sealed: bytes, purpose: str) -> bytes:
        try:
            return self._clients.kms.decrypt(CiphertextBlob=sealed, KeyId=self.key_id,
                                             EncryptionContext={"purpose": purpose})["Plaintext"]
        except ClientError as error:
            if error_code(error) in ("InvalidCiphertextException", "IncorrectKeyException"):
                raise ports.StorageError(
                    "sealed data is foreign, tampered with, or for another purpose") from error
            raise


class SnsNotifier:
    def __init__(self, clients: AwsClients, sender_id: str) -> None:
        self._clients = clients
        self._sender_id = sender_id

    def send_sms(self, phone: str, text: str) -> ports.SentMessage:
        shared.check_phone(phone)
        reply = self._clients.sns.publish(PhoneNumber=phone, Message=text, MessageAttributes={
            "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": self._sender_id},
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}})
        return ports.SentMessage(reply["MessageId"], phone, text, shared.now_iso())


def build(settings: Settings) -> ports.Backend:
    clients = AwsClients(settings)
    return ports.Backend(
        name="aws",
        records=DynamoRecords(clients, settings.table),
        blobs=S3Blobs(clients, settings),
        custody=KmsKeyCustody(clients, settings.kms_key_id),
        notifier=SnsNotifier(clients, settings.sms_sender_id),
        audit=DynamoAudit(clients, settings.table),
        close=clients.close,
    )
