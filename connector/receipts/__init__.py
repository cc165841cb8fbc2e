"""Receipt emails and PDF invoices: render an Invoice (JSON) in the customer's language and currency format."""

from connector.receipts.formatting import ReceiptDataError, format_money
from connector.receipts.pdf import Operator, render_invoice_pdf
from connector.receipts.render import Brand, Receipt, receipt_context, render_receipt

__all__ = ["Brand", "Operator", "Receipt", "ReceiptDataError", "format_money", "receipt_context", "render_invoice_pdf",
           "render_receipt"]
