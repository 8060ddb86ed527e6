"""Content blocks a tool or prompt may return besides JSON: images, audio, embedded resources, links.

from mcp_bridge.content import Image, Text
return [Text("The chart:"), Image(png_bytes, "image/png")]
"""

import base64
from dataclasses import dataclass

from mcp import types


@dataclass(frozen=True)
class Text:
    text: str

    def to_mcp(self):
        return types.TextContent(type="text", text=self.text)


def _base64(data):
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class Media:
    """Bytes of some *mime_type*, sent base64-encoded: use its subclasses Image and Audio."""

    data: bytes
    mime_type: str

    def to_mcp(self):
        return self.content_class(type=self.content_type, data=_base64(self.data), mime_type=self.mime_type)


class Image(Media):
    content_type = "image"
    content_class = types.ImageContent


class Audio(Media):
    content_type = "audio"
    content_class = types.AudioContent


@dataclass(frozen=True)
class EmbeddedResource:
    """A resource's contents inline: pass `text`, or `blob` bytes (sent base64-encoded).

    Neither gives an empty text resource.
    """

    uri: str
    mime_type: str
    text: str | None = None
    blob: bytes | None = None

    def __post_init__(self):
        if self.text is not None and self.blob is not None:
            raise ValueError(f"EmbeddedResource {self.uri!r} takes text or blob bytes, not both.")

    def to_mcp(self):
        value = self.blob if self.blob is not None else (self.text or "")
        return types.EmbeddedResource(type="resource", resource=resource_contents(self.uri, self.mime_type, value))


@dataclass(frozen=True)
class ResourceLink:
    """A pointer to a resource the client can read later (e.g. a large export)."""

    uri: str
    name: str
    mime_type: str | None = None
    description: str | None = None

    def to_mcp(self):
        return types.ResourceLink(
            type="resource_link", uri=self.uri, name=self.name, mime_type=self.mime_type, description=self.description
        )


BLOCK_TYPES = (Text, Image, Audio, EmbeddedResource, ResourceLink)


def is_content(value):
    return isinstance(value, BLOCK_TYPES) or (
        isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, BLOCK_TYPES) for v in value)
    )


def blocks(value):
    """Return a list of content blocks for a block or a list of blocks."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


def resource_contents(uri, mime_type, value):
    """Turn a resource function's str/bytes/dict result into MCP resource contents."""
    if isinstance(value, bytes):
        return types.BlobResourceContents(uri=uri, mime_type=mime_type, blob=_base64(value))
    return types.TextResourceContents(uri=uri, mime_type=mime_type, text=value)
