"""API tokens for scripts and Home Assistant: create (shown once), list, revoke."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from scenewatch.api.deps import ServerState, get_state
from scenewatch.runtime import queries

router = APIRouter(prefix="/tokens", tags=["tokens"])


class TokenCreate(BaseModel):
    """A token to create."""

    name: str = Field(..., min_length=1, max_length=100, description="what the token is for")


@router.get("")
def list_tokens(state: ServerState = Depends(get_state)) -> list[dict[str, Any]]:
    """Tokens (never their secrets)."""
    return queries.list_tokens(state.store)


@router.post("", status_code=201)
def create_token(body: TokenCreate, state: ServerState = Depends(get_state)) -> dict[str, Any]:
    """A new token; the ``token`` value is returned this once and stored only hashed."""
    return queries.create_token(state.store, body.name)


@router.delete("/{token_id}")
def revoke_token(token_id: int = Path(..., ge=1, le=2**62), state: ServerState = Depends(get_state)) -> dict[str, Any]:
    """Revoke a token: requests with it get 401 from now on."""
    return queries.revoke_token(state.store, token_id)
