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


@dataclass(frozen=True)
class Image:
    data: bytes
    mime_type: str

    def to_mcp(self):
        return types.ImageContent(type="image", data=base64.b64encode(self.data).decode(), mime_type=self.mime_type)


@dataclass(frozen=True)
class Audio:
    data: bytes
    mime_type: str

    def to_mcp(self):
        return types.AudioContent(type="audio", data=base64.b64encode(self.data).decode(), mime_type=self.mime_type)


@dataclass(frozen=True)
class EmbeddedResource:
    """A resource's contents inline: pass `text`, or `blob` bytes."""

    uri: str
    mime_type: str
    text: str = None
    blob: bytes = None

    def to_mcp(self):
        if self.blob is not None:
            contents = types.BlobResourceContents(uri=self.uri, mime_type=self.mime_type, blob=base64.b64encode(self.blob).decode())
        else:
            contents = types.TextResourceContents(uri=self.uri, mime_type=self.mime_type, text=self.text or "")
        return types.EmbeddedResource(type="resource", resource=contents)


@dataclass(frozen=True)
class ResourceLink:
    """A pointer to a resource the client can read later (e.g. a large export)."""

    uri: str
    name: str
    mime_type: str = None
    description: str = None

    def to_mcp(self):
        return types.ResourceLink(type="resource_link", uri=self.uri, name=self.name, mime_type=self.mime_type,
                                  description=self.description)


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
        return types.BlobResourceContents(uri=uri, mime_type=mime_type, blob=base64.b64encode(value).decode())
    return types.TextResourceContents(uri=uri, mime_type=mime_type, text=value)
