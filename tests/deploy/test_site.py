"""The site on AWS serves every page: each built page, and every link between pages, is found
through the key CloudFront's S3 origin asks for; the API keeps its own JSON errors and gets the
headers it reads."""

from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import boto3
import pytest

from beian.publish import INDEX, cloudfront_key, publish, site_objects
from tests.conftest import REGION, SITE_DIR

ORIGIN = "https://beian.example.cn"
API_SOURCES = [Path(__file__).resolve().parents[2] / "api" / name for name in ("app.py", "chalicelib/adapters/http.py")]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"a": "href", "link": "href", "script": "src", "img": "src"}.get(tag)
        self.links += [value for name, value in attrs if name == wanted and value]


@pytest.fixture(scope="module")
def site() -> Path:
    assert (SITE_DIR / INDEX).is_file(), f"no built site in {SITE_DIR}: run make site"
    return SITE_DIR


def page_url(site: Path, page: Path) -> str:
    """The address MkDocs gives a page: its folder for an index.html."""
    relative = page.relative_to(site).as_posix()
    return "/" + relative.removesuffix(INDEX)


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_every_built_page_is_found_where_cloudfront_asks_for_it(site: Path) -> None:
    objects = {item.key: item.path for item in site_objects(site)}
    built = pages(site)
    assert len(built) >= 20
    for page in built:
        url = page_url(site, page)
        assert objects.get(cloudfront_key(url)) == page, url
    # Without the folder keys the pages in folders would not be found at all.
    assert sum(1 for page in built if cloudfront_key(page_url(site, page)).endswith("/")) >= 10


def test_every_link_between_pages_resolves(site: Path) -> None:
    objects = {item.key for item in site_objects(site)}
    missing = set()
    for page in pages(site):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        base = ORIGIN + page_url(site, page)
        for link in parser.links:
            target = urljoin(base, link)
            if not target.startswith(ORIGIN + "/") or urlsplit(target).path.startswith("/api/"):
                continue  # another site, or the API (served by API Gateway)
            if cloudfront_key(target) not in objects:
                missing.add((page_url(site, page), link))
    assert missing == set()


def test_the_mapping_is_cloudfront_s(site: Path) -> None:
    assert cloudfront_key("/") == INDEX  # DefaultRootObject, for the root only
    assert cloudfront_key("/submit/?filing=F1#top") == "submit/"
    assert cloudfront_key("/en/submit/") == "en/submit/"


def test_publishing_puts_every_page_where_s3_serves_it_with_its_type(aws_endpoint: str, site: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint)
    s3 = boto3.client("s3", region_name=REGION)
    bucket = f"beian-site-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=bucket, Key="old-page/index.html", Body=b"gone")
    changed = list(publish(s3, bucket, site_objects(site)))
    assert "old-page/index.html" in changed
    held = {entry["Key"] for entry in s3.list_objects_v2(Bucket=bucket, MaxKeys=1000)["Contents"]}
    assert "old-page/index.html" not in held
    for page in pages(site)[:40]:
        reply = s3.get_object(Bucket=bucket, Key=cloudfront_key(page_url(site, page)))
        assert reply["Body"].read() == page.read_bytes()
        assert reply["ContentType"] == "text/html; charset=utf-8"


def _distribution(template: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = template["Resources"]["SiteDistribution"]["Properties"]["DistributionConfig"]
    return config


def test_the_api_keeps_its_json_errors_behind_cloudfront(template: dict[str, Any]) -> None:
    # Custom error responses apply to the whole distribution, /api/* included: the API's own
    # 403 and 404 JSON would become the site's HTML. The site bucket answers 404 itself.
    assert not _distribution(template).get("CustomErrorResponses")
    statements = template["Resources"]["SiteBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    (listing,) = [statement for statement in statements if statement["Action"] == "s3:ListBucket"]
    assert listing["Principal"] == {"CanonicalUser": {"Fn::GetAtt": ["SiteOriginIdentity", "S3CanonicalUserId"]}}


def test_cloudfront_forwards_every_header_the_api_reads(template: dict[str, Any]) -> None:
    (api,) = [behaviour for behaviour in _distribution(template)["CacheBehaviors"]
              if behaviour["PathPattern"] == "/api/*"]
    forwarded = {header.lower() for header in api["ForwardedValues"]["Headers"]}
    pattern = r"headers[^\n]*?\.get\(\s*[\"']([A-Za-z-]+)[\"']"
    read = {name.lower() for source in API_SOURCES
            for name in re.findall(pattern, source.read_text(encoding="utf-8"))}
    assert "idempotency-key" in read
    assert read | {"authorization", "content-type", "accept"} <= forwarded
