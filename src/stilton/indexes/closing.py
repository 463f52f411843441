"""Closing an index: a proxy holds upstream connections, and a group (or a policy) holds its
members."""

from __future__ import annotations

from stilton.indexes.base import Index
from stilton.indexes.group import GroupIndex
from stilton.indexes.policy import PolicyIndex
from stilton.indexes.proxy import ProxyIndex


async def close_index(index: Index) -> None:
    if isinstance(index, PolicyIndex):
        await close_index(index.inner)
    elif isinstance(index, GroupIndex):
        for member in index.members:
            await close_index(member)
    elif isinstance(index, ProxyIndex):
        await index.aclose()
