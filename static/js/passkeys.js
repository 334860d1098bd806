// "Add a passkey" on the enrolment page: create a credential for the options in the button's data
// attribute, put the answer in the form's passkey_response field and submit.
(function () {
  "use strict";
  function ready(fn) { if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn); }
  ready(function () {
    document.querySelectorAll("button.passkey-register").forEach(function (button) {
      button.addEventListener("click", async function () {
        const form = button.closest("form");
        const status = form.querySelector(".passkey-status");
        if (!window.PublicKeyCredential) { status.textContent = "This browser has no passkey support."; return; }
        button.disabled = true;
        status.textContent = "Waiting for your passkey…";
        try {
          const options = JSON.parse(button.getAttribute("data-registration-options"));
          const cred = await navigator.credentials.create({ publicKey: window.bxWebAuthn.creationOptions(options) });
          form.querySelector("input[name=passkey_response]").value = window.bxWebAuthn.attestationJSON(cred);
          status.textContent = "Registered; saving…";
          form.submit();
        } catch (err) {
          status.textContent = "No passkey was created (" + err.name + ").";
          button.disabled = false;
        }
      });
    });
  });
})();
