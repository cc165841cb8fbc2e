"""SAP S/4HANA routes of the finance vendors double (``FinanceVendors`` in ``finance_vendors.py``)."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

from flask import Flask, Response, request

from tests.platforms.fakes.server import reply


class SapS4Hana:
    """Mixed into ``FinanceVendors`` (one server for the five vendors: shared token set, request log and
    scripted failures); ``install_sap_s4hana`` adds this vendor's state and routes."""

    def install_sap_s4hana(self, app: Flask) -> None:
        self.sap_documents: dict[tuple[str, str], dict[str, Any]] = {}  # (company code, XBLNR) -> document
        self.sap_messages: dict[str, str] = {}  # SOAP message id -> accounting document

        @app.post("/oauth2/cc-token")
        def client_credentials_token() -> Response:
            """Client-credentials token endpoint (Integration Suite, NetSuite OAuth 2.0 stand-in)."""
            expected = "Basic " + base64.b64encode(b"cc-app:cc-app-secret").decode()
            if request.headers.get("Authorization") != expected or request.form.get("grant_type") != "client_credentials":
                return reply({"error": "invalid_client"}, 401)
            token = f"cc-app-token-{next(self.ids)}"
            self.tokens.add(token)
            return reply({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

        def sap_basic_ok() -> bool:
            expected = "Basic " + base64.b64encode(b"EVB_COMM:sap-secret").decode()
            return request.headers.get("Authorization") == expected or self.bearer_ok()

        @app.post("/sap/evbill/acc_document")
        def sapanswer() -> Response:
            if not sap_basic_ok():
                return Response("Unauthorized", status=401)
            doc = json.loads(request.get_data())
            sums: dict[tuple[str, str], Decimal] = {}
            for row in doc["CURRENCYAMOUNT"]:
                key = (row["CURR_TYPE"], row["CURRENCY_ISO"])
                sums[key] = sums.get(key, Decimal(0)) + Decimal(row["AMT_DOCCUR"])
            if any(sums.values()):
                return reply({"RETURN": [{"TYPE": "E", "ID": "RW", "NUMBER": "609",
                                          "MESSAGE": f"Error in document: balance {sums}"}]})
            key = (doc["DOCUMENTHEADER"]["COMP_CODE"], doc["DOCUMENTHEADER"]["REF_DOC_NO"])
            with self.lock:  # the iFlow's SELECT SINGLE belnr FROM bkpf WHERE xblnr = ...
                if key in self.sap_documents:
                    return reply({"OBJ_KEY": self.sap_documents[key]["OBJ_KEY"], "DUPLICATE": True,
                                  "RETURN": [{"TYPE": "W", "ID": "ZEV", "NUMBER": "001",
                                              "MESSAGE": "Reference already posted"}]})
                obj_key = f"{100000000 + next(self.ids):010d}{key[0]}2026"
                self.sap_documents[key] = {"OBJ_KEY": obj_key, **doc}
            return reply({"OBJ_TYPE": "BKPFF", "OBJ_KEY": obj_key, "OBJ_SYS": "S4HCLNT100",
                          "RETURN": [{"TYPE": "S", "ID": "RW", "NUMBER": "605", "MESSAGE": "Document posted"}]})

        @app.post("/sap/bc/srt/scs_ext/sap/journalentrycreaterequestconfi")
        def sap_soap() -> Response:
            if not sap_basic_ok():
                return Response("Unauthorized", status=401)
            if "JournalEntryCreateRequestConfirmation_In" not in request.headers.get("SOAPAction", ""):
                return Response("wrong SOAPAction", status=500)
            root = ET.fromstring(request.get_data())
            msg_id = root.findtext(".//{http://sap.com/xi/SAPSCORE/SFIN}JournalEntryBulkCreateRequest/MessageHeader/ID")
            je = root.find(".//JournalEntry")
            sums: dict[str, Decimal] = {}
            for el in je.iter():
                if el.tag in ("AmountInTransactionCurrency", "AmountInCompanyCodeCurrency"):
                    sums[el.tag] = sums.get(el.tag, Decimal(0)) + Decimal(el.text)
            with self.lock:
                if any(sums.values()):
                    number, severity, note = "0000000000", "3", f"Balance not zero: {sums}"
                elif msg_id in self.sap_messages:
                    number, severity, note = self.sap_messages[msg_id], "1", "Message already processed"
                else:
                    number, severity, note = f"{100000000 + next(self.ids):010d}", "1", "Document posted"
                    self.sap_messages[msg_id] = number
                    self.sap_documents[(je.findtext("CompanyCode"), je.findtext("DocumentReferenceID"))] = {
                        "OBJ_KEY": number, "xml": request.get_data(as_text=True)}
            answer = (
                '<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"><soap-env:Body>'
                '<n0:JournalEntryBulkCreateConfirmation xmlns:n0="http://sap.com/xi/SAPSCORE/SFIN">'
                "<JournalEntryCreateConfirmation><JournalEntryCreateConfirmation>"
                f"<AccountingDocument>{number}</AccountingDocument><CompanyCode>{je.findtext('CompanyCode')}</CompanyCode>"
                "<FiscalYear>2026</FiscalYear></JournalEntryCreateConfirmation>"
                f"<Log><MaximumLogItemSeverityCode>{severity}</MaximumLogItemSeverityCode>"
                f"<Item><Note>{note}</Note></Item></Log></JournalEntryCreateConfirmation>"
                "</n0:JournalEntryBulkCreateConfirmation></soap-env:Body></soap-env:Envelope>")
            return Response(answer, status=200, content_type="text/xml")
