//! Accepting an invitation another organisation's node sent.

use super::*;

/// Accept an invitation for the signing key (registered on this node): this node fetches the
/// chain from the inviting node with the invitation's one-time key, and sends it the identity
/// again with the signing key as `user`, this node's key as `system` and this node as `node`,
/// signed with the one-time key, which it replaces. The inviting node then delivers the chain
/// here; the answer says whether it has arrived (within 10 s).
#[utoipa::path(post, path = "/invitations", tag = "invitations",
    request_body(content = crate::invitations::Acceptance, description = "The invitation", content_type = "application/json"),
    responses((status = 201, description = "Accepted", body = crate::invitations::Accepted),
        (status = 400, description = "Malformed JSON, a bad key or chain id, or a node that is not a peer", body = Value, content_type = "application/problem+json"),
        (status = 403, description = "The signing key is not registered on this node", body = Value, content_type = "application/problem+json"),
        (status = 422, description = "The inviting node refused: the invitation is used, or for another chain", body = Value, content_type = "application/problem+json"),
        (status = 502, description = "The inviting node could not be reached or failed", body = Value, content_type = "application/problem+json")))]
pub(super) async fn post_invitation(
    State(app): Shared,
    signed: Signed,
) -> Result<Response, Problem> {
    let caller = &signed.caller.key;
    if !app.is_registered(caller).await? {
        return Err(Problem::forbidden(format!(
            "key {caller} may not accept invitations on this node: register an identity with this key first (POST /identities)"
        )));
    }
    let acceptance: crate::invitations::Acceptance = parse_json(signed.peek())?;
    signed.spend(&app).await?;
    let accepted = crate::invitations::accept(&app, &signed.caller.key, acceptance).await?;
    Ok(json_response(StatusCode::CREATED, &accepted))
}
