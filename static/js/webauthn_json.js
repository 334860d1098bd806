// Base64url <-> ArrayBuffer and the JSON forms of WebAuthn credentials, for stepup.js and passkeys.js.
// No inline script anywhere: pages pass options through data attributes.
(function () {
  "use strict";
  function toBuffer(b64url) {
    const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((b64url.length + 3) % 4);
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function toB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function descriptors(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: toBuffer(c.id) }); });
  }
  window.bxWebAuthn = {
    requestOptions: function (o) {
      return Object.assign({}, o, { challenge: toBuffer(o.challenge), allowCredentials: descriptors(o.allowCredentials) });
    },
    creationOptions: function (o) {
      return Object.assign({}, o, {
        challenge: toBuffer(o.challenge),
        user: Object.assign({}, o.user, { id: toBuffer(o.user.id) }),
        excludeCredentials: descriptors(o.excludeCredentials),
      });
    },
    assertionJSON: function (cred) {
      const r = cred.response;
      return JSON.stringify({
        id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
        response: {
          authenticatorData: toB64url(r.authenticatorData), clientDataJSON: toB64url(r.clientDataJSON),
          signature: toB64url(r.signature), userHandle: r.userHandle ? toB64url(r.userHandle) : null,
        },
      });
    },
    attestationJSON: function (cred) {
      const r = cred.response;
      return JSON.stringify({
        id: cred.id, rawId: toB64url(cred.rawId), type: cred.type,
        response: {
          clientDataJSON: toB64url(r.clientDataJSON), attestationObject: toB64url(r.attestationObject),
          transports: r.getTransports ? r.getTransports() : [],
        },
      });
    },
  };
})();
