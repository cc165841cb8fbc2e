"""Structural checks of the Office add-in XML manifest (offline: Microsoft's validator is an online service).

Returns a list of problems so a test can also prove that a broken manifest is caught.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlparse

NS = {
    "o": "http://schemas.microsoft.com/office/appforoffice/1.1",
    "ov": "http://schemas.microsoft.com/office/taskpaneappversionoverrides",
    "bt": "http://schemas.microsoft.com/office/officeappbasictypes/1.0",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
XSI_TYPE = f"{{{NS['xsi']}}}type"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
# which resource collection a resid must live in, by the referencing element's local name
KIND = {"Image": "Images", "SourceLocation": "Urls", "FunctionFile": "Urls", "Runtime": "Urls",
        "LearnMoreUrl": "Urls", "Label": "ShortStrings", "Title": "ShortStrings", "Namespace": "ShortStrings",
        "Description": "LongStrings"}
REQUIRED = ("Id", "Version", "ProviderName", "DefaultLocale", "DisplayName", "Description", "IconUrl",
            "HighResolutionIconUrl", "SupportUrl", "AppDomains", "Hosts", "DefaultSettings", "Permissions",
            "VersionOverrides")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def manifest_problems(text: str, web_root: Path, base_url: str) -> list[str]:
    """Everything wrong with the manifest; URLs under ``base_url`` must be files under ``web_root``."""
    problems: list[str] = []
    root = ET.fromstring(text)
    if _local(root.tag) != "OfficeApp" or root.get(XSI_TYPE) != "TaskPaneApp":
        return ["root: expected <OfficeApp xsi:type='TaskPaneApp'>"]
    present = {_local(child.tag) for child in root}
    problems += [f"missing <{name}>" for name in REQUIRED if name not in present]
    app_id = root.findtext("o:Id", "", NS).strip()
    if not GUID.match(app_id):
        problems.append(f"Id: '{app_id}' is not a GUID")
    if not re.match(r"^\d+\.\d+\.\d+\.\d+$", root.findtext("o:Version", "", NS).strip()):
        problems.append("Version: expected n.n.n.n")
    if [h.get("Name") for h in root.findall("o:Hosts/o:Host", NS)] != ["Workbook"]:
        problems.append("Hosts: expected exactly Workbook")
    resources: dict[str, dict[str, str]] = {}
    for kind in ("Images", "Urls", "ShortStrings", "LongStrings"):
        for item in root.findall(f".//ov:Resources/bt:{kind}/*", NS):
            rid = item.get("id", "")
            if any(rid in r for r in resources.values()):
                problems.append(f"resource id '{rid}' is defined twice")
            if len(rid) > 32:
                problems.append(f"resource id '{rid}' is longer than 32 characters")
            resources.setdefault(kind, {})[rid] = item.get("DefaultValue", "")
    used: set[str] = set()
    for element in root.iter():
        resid = element.get("resid")
        if resid is None:
            continue
        used.add(resid)
        kind = KIND.get(_local(element.tag))
        if kind is None or resid not in resources.get(kind, {}):
            problems.append(f"<{_local(element.tag)} resid='{resid}'> does not resolve to a bt:{kind} resource")
    unused = sorted(set().union(*[set(r) for r in resources.values()]) - used)
    problems += [f"resource '{rid}' is never referenced" for rid in unused]
    ext = root.find(".//ov:Host[@xsi:type='Workbook']/ov:AllFormFactors/ov:ExtensionPoint[@xsi:type='CustomFunctions']", NS)
    if ext is None:
        problems.append("no CustomFunctions extension point for Workbook")
    else:
        for part in ("Script/ov:SourceLocation", "Page/ov:SourceLocation", "Metadata/ov:SourceLocation", "Namespace"):
            if ext.find(f"ov:{part}", NS) is None:
                problems.append(f"CustomFunctions: missing {part}")
        namespace = ext.find("ov:Namespace", NS)
        if namespace is not None and resources.get("ShortStrings", {}).get(namespace.get("resid", "")) != "EVBILL":
            problems.append("CustomFunctions: the namespace must be EVBILL")
    urls = [v for r in resources.values() for v in r.values() if "://" in v]
    urls += [e.get("DefaultValue", "") for e in root.iter() if _local(e.tag) in ("IconUrl", "HighResolutionIconUrl",
                                                                               "SupportUrl", "SourceLocation")
             and e.get("DefaultValue")]
    domains = [d.text or "" for d in root.findall("o:AppDomains/o:AppDomain", NS)]
    for url in urls + domains:
        if urlparse(url).scheme != "https":
            problems.append(f"URL '{url}' is not https")
    for url in urls:
        if not any(url.startswith(d.rstrip("/") + "/") for d in domains):
            problems.append(f"URL '{url}' is outside the AppDomains")
        if url.startswith(base_url) and not (web_root / url[len(base_url):]).is_file():
            problems.append(f"URL '{url}' has no file {url[len(base_url):]} in {web_root}")
    info = root.find("ov:VersionOverrides/ov:WebApplicationInfo", NS)
    if info is None:
        problems.append("missing WebApplicationInfo (Entra ID SSO)")
    else:
        client = info.findtext("ov:Id", "", NS).strip()
        if not GUID.match(client) or client == app_id:
            problems.append("WebApplicationInfo/Id: expected the Entra app's client GUID (not the add-in Id)")
        if not info.findtext("ov:Resource", "", NS).startswith("api://") or client not in info.findtext("ov:Resource", "", NS):
            problems.append("WebApplicationInfo/Resource: expected api://<host>/<client id>")
    return problems
