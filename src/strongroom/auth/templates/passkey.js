// The sign-in page's passkey button: the WebAuthn ceremony of docs/oauth.md, with the
// pushed request the form already carries. No framework and no third-party code, so the
// page's CSP can stay at script-src 'self'.
"use strict";
(function () {
  const form = document.querySelector("form");
  const button = document.getElementById("passkey");
  const error = document.querySelector(".error");
  if (!form || !button || !window.PublicKeyCredential) {
    if (button) button.hidden = true;
    return;
  }
  const b64u = (buf) =>
    btoa(String.fromCharCode(...new Uint8Array(buf)))
      .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const unb64u = (text) =>
    Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const post = (path, body) =>
    fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
    });
  button.addEventListener("click", async () => {
    const request = {
      client_id: form.elements["client_id"].value,
      request_uri: form.elements["request_uri"].value,
    };
    try {
      const options = await (await post("/oauth/webauthn/authenticate/options", request)).json();
      options.challenge = unb64u(options.challenge);
      for (const c of options.allowCredentials || []) c.id = unb64u(c.id);
      const cred = await navigator.credentials.get({ publicKey: options });
      const r = cred.response;
      const answer = await post("/oauth/webauthn/authenticate/verify", {
        ...request,
        credential: {
          id: cred.id,
          rawId: b64u(cred.rawId),
          type: cred.type,
          response: {
            clientDataJSON: b64u(r.clientDataJSON),
            authenticatorData: b64u(r.authenticatorData),
            signature: b64u(r.signature),
            userHandle: r.userHandle ? b64u(r.userHandle) : null,
          },
          clientExtensionResults: cred.getClientExtensionResults(),
        },
      });
      const body = await answer.json();
      if (body.redirect_to) {
        window.location.assign(body.redirect_to);
      } else {
        error.textContent = body.error_description || "Sign-in failed.";
      }
    } catch (e) {
      error.textContent = "The passkey sign-in did not complete. Try again, or use your code.";
    }
  });
})();
