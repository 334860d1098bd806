// The batch form's leg builder: legs entered row by row are written into the CSV box as the user types,
// so what is submitted (and validated line by line by the server) is exactly the CSV shown. Row n is
// CSV line n + 1 (line 1 is the header), as the server's error messages name it. Without JavaScript
// the CSV box alone works.
(function () {
  "use strict";
  const builder = document.getElementById("leg-builder");
  const box = document.getElementById("id_csv_text");
  if (!builder || !box || builder.dataset.ready) return;
  builder.dataset.ready = "1";

  const header = builder.dataset.columns.split(",");
  const keySets = JSON.parse(builder.dataset.keySets || "[]");
  const WALLETS = ["fund", "spot", "stdFutures", "USDTMPerp", "coinMPerp"];
  const RECIPIENT = [["1", "UID"], ["2", "Phone"], ["3", "Email"]];
  const WALLET_TYPE = [["1", "Funding"], ["2", "Standard futures"], ["3", "Perpetual futures"]];
  const SIDE = [["1", "Main"], ["2", "Sub-account"]];
  const ACCOUNT = [["1", "Funding"], ["2", "Standard futures"], ["3", "USDT-M perpetual"]];
  // The fields of each kind: [column, label, choices or null].
  const FIELDS = {
    inner: [["recipient_type", "Recipient type", RECIPIENT], ["recipient_account", "Recipient", null],
      ["calling_code", "Calling code (phone)", null], ["wallet_type", "Into wallet", WALLET_TYPE]],
    sub_inner: [["recipient_type", "Recipient type", RECIPIENT], ["recipient_account", "Recipient", null],
      ["calling_code", "Calling code (phone)", null], ["wallet_type", "Into wallet", WALLET_TYPE]],
    wallet: [["from_wallet", "From wallet", WALLETS.map((w) => [w, w])],
      ["to_wallet", "To wallet", WALLETS.map((w) => [w, w])]],
    family: [["from_uid", "From UID", null], ["from_type", "From", SIDE],
      ["from_account_type", "From wallet", ACCOUNT], ["to_uid", "To UID", null], ["to_type", "To", SIDE],
      ["to_account_type", "To wallet", ACCOUNT], ["remark", "Remark", null]],
  };
  const rows = builder.querySelector("#leg-rows");

  function field(row, name, label, choices, value) {
    const id = "leg-" + row.dataset.n + "-" + name;
    const wrap = document.createElement("label");
    wrap.className = "leg-field";
    wrap.htmlFor = id;
    wrap.append(label + " ");
    let input;
    if (choices) {
      input = document.createElement("select");
      for (const [v, text] of choices) input.add(new Option(text, v));
    } else {
      input = document.createElement("input");
      input.type = "text";
      input.autocomplete = "off";
    }
    input.id = id;
    input.dataset.column = name;
    if (value !== undefined && value !== "") input.value = value;
    wrap.append(input);
    return wrap;
  }

  function kindFields(row, values) {
    const holder = row.querySelector(".leg-kind-fields");
    holder.replaceChildren();
    for (const [name, label, choices] of FIELDS[row.querySelector("[data-column=kind]").value]) {
      holder.append(field(row, name, label, choices, values[name]));
    }
  }

  function renumber() {
    rows.querySelectorAll(".leg-row").forEach((row, i) => {
      row.querySelector(".leg-line").textContent = "Line " + (i + 2);
    });
  }

  let counter = 0;
  function addRow(values) {
    values = values || {};
    const row = document.createElement("fieldset");
    row.className = "leg-row";
    row.dataset.n = String(++counter);
    const legend = document.createElement("legend");
    legend.className = "leg-line";
    row.append(legend);
    row.append(field(row, "kind", "Kind", [["inner", "Inner transfer"], ["wallet", "Between own wallets"],
      ["sub_inner", "Sub-account inner"], ["family", "Main ↔ sub-account"]], values.kind));
    row.append(field(row, "key_set", "Key set", keySets.map((k) => [k, k]), values.key_set));
    row.append(field(row, "asset", "Asset", null, values.asset || "USDT"));
    row.append(field(row, "amount", "Amount", null, values.amount));
    const kinds = document.createElement("div");
    kinds.className = "leg-kind-fields";
    row.append(kinds);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "leg-remove";
    remove.textContent = "Remove this leg";
    row.append(remove);
    rows.append(row);
    kindFields(row, values);
    renumber();
    return row;
  }

  function quote(value) {
    return /[",\n\r]/.test(value) ? '"' + value.replace(/"/g, '""') + '"' : value;
  }

  function write() {
    const legs = rows.querySelectorAll(".leg-row");
    if (!legs.length) return;
    const lines = [header.join(",")];
    legs.forEach((row) => {
      const values = {};
      row.querySelectorAll("[data-column]").forEach((input) => { values[input.dataset.column] = input.value.trim(); });
      lines.push(header.map((column) => quote(values[column] || "")).join(","));
    });
    box.value = lines.join("\n") + "\n";
  }

  function parse(text) {
    // The CSV box's lines as objects (quotes as the server reads them), to continue in the builder.
    const out = [];
    const records = [];
    let record = [], cell = "", quoted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
        else if (c === '"') quoted = false;
        else cell += c;
      } else if (c === '"') quoted = true;
      else if (c === ",") { record.push(cell); cell = ""; }
      else if (c === "\n" || c === "\r") {
        if (c === "\r" && text[i + 1] === "\n") i++;
        record.push(cell); records.push(record); record = []; cell = "";
      } else cell += c;
    }
    if (cell || record.length) { record.push(cell); records.push(record); }
    const names = (records.shift() || []).map((n) => n.trim());
    for (const r of records) {
      if (r.every((v) => !v.trim())) continue;
      const values = {};
      names.forEach((n, i) => { values[n] = (r[i] || "").trim(); });
      out.push(values);
    }
    return out;
  }

  builder.hidden = false;
  builder.querySelector("#add-leg").addEventListener("click", () => {
    if (!rows.children.length && box.value.trim()) parse(box.value).forEach((values) => addRow(values));
    addRow().querySelector("[data-column=amount]").focus();
    write();
  });
  rows.addEventListener("change", (event) => {
    const row = event.target.closest(".leg-row");
    if (row && event.target.dataset.column === "kind") kindFields(row, {});
    write();
  });
  rows.addEventListener("input", write);
  rows.addEventListener("click", (event) => {
    if (!event.target.classList.contains("leg-remove")) return;
    event.target.closest(".leg-row").remove();
    renumber();
    if (rows.children.length) write();
    else box.value = "";
  });
})();
