"""The built site as objects in the site bucket, keyed so CloudFront finds every page.

MkDocs writes each page as ``<page>/index.html`` and links to it as ``<page>/``
(``use_directory_urls``). CloudFront's S3 REST origin asks S3 for the key the path names,
``<page>/``, and a default root object applies only to ``/``; the China regions offer neither
CloudFront Functions nor Lambda@Edge to rewrite it. So every ``index.html`` is also stored
under its folder's key, and ``/<page>/`` is found as it is.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

INDEX = "index.html"  # the distribution's DefaultRootObject, and MkDocs' page file
TEXT_TYPES = ("text/", "application/javascript", "application/json", "image/svg+xml", "application/xml")
# Pages change with each release; assets carry no version in their names either.
CACHE_CONTROL = "public, max-age=300"


@dataclass(frozen=True)
class SiteObject:
    key: str
    path: Path
    content_type: str


def _content_type(path: Path) -> str:
    guessed = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith(TEXT_TYPES) else guessed


def site_objects(site: Path) -> list[SiteObject]:
    """Every file under its own key, and every page's index.html under its folder's key too."""
    objects = []
    for path in sorted(item for item in site.rglob("*") if item.is_file()):
        key = path.relative_to(site).as_posix()
        objects.append(SiteObject(key, path, _content_type(path)))
        if path.name == INDEX and key != INDEX:
            objects.append(SiteObject(key.removesuffix(INDEX), path, _content_type(path)))
    return objects


def cloudfront_key(url: str) -> str:
    """The S3 key CloudFront's S3 origin asks for on a request for ``url`` (path and query)."""
    path = unquote(urlsplit(url).path)
    return INDEX if path == "/" else path.removeprefix("/")


def publish(s3: S3Client, bucket: str, objects: Iterable[SiteObject]) -> Iterator[str]:
    """Upload ``objects`` and delete what the bucket holds beyond them; yields each key changed."""
    wanted = {item.key: item for item in objects}
    for item in wanted.values():
        with item.path.open("rb") as body:
            s3.put_object(Bucket=bucket, Key=item.key, Body=body, ContentType=item.content_type,
                          CacheControl=CACHE_CONTROL)
        yield item.key
    stale = [entry["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
             for entry in page.get("Contents", []) if entry["Key"] not in wanted]
    for key in stale:  # the bucket is versioned: a deleted page stays recoverable for 90 days
        s3.delete_object(Bucket=bucket, Key=key)
        yield key
