// "Use passkey" in templates/accounts/_stepup.html: sign the challenge derived from this decision,
// put the answer in the form's stepup_assertion field and submit the form.
(function () {
  "use strict";
  function ready(fn) { if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn); }
  ready(function () {
    document.querySelectorAll("button.stepup-passkey:not([data-bound])").forEach(function (button) {
      button.setAttribute("data-bound", "1");
      button.addEventListener("click", async function () {
        const form = button.closest("form");
        const status = form.querySelector(".stepup-status");
        if (!window.PublicKeyCredential || !window.bxWebAuthn) { status.textContent = "This browser has no passkey support."; return; }
        button.disabled = true;
        status.textContent = "Waiting for your passkey…";
        try {
          const options = JSON.parse(button.getAttribute("data-stepup-options"));
          const cred = await navigator.credentials.get({ publicKey: window.bxWebAuthn.requestOptions(options) });
          form.querySelector("input.stepup-assertion").value = window.bxWebAuthn.assertionJSON(cred);
          const code = form.querySelector("input.stepup-code");
          if (code) code.value = "";
          status.textContent = "Signed; sending…";
          const action = button.getAttribute("data-formaction");
          if (action) { form.action = action; form.submit(); return; }  // one form, two decisions
          const submitter = form.querySelector("[type=submit]:not([disabled])");  // not a disabled default button
          if (form.requestSubmit) form.requestSubmit(submitter || undefined); else form.submit();
        } catch (err) {
          status.textContent = "The passkey did not answer (" + err.name + "). Try again or type a code.";
          button.disabled = false;
        }
      });
    });
  });
})();
