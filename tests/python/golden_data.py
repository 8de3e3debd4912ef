"""A small hand-made export (leads, events, orders as CSV) around the worked example's golden lead."""

from __future__ import annotations

from pathlib import Path

AS_OF = "2026-11-20"

LEADS = """lead_id,email,company_name,industry,employee_count,annual_revenue,country_code,job_title,lead_source,created_at,lifecycle_stage,converted_at
G1,anne@golden-tech.fr,Golden Tech SAS,Technology,300,25000000,FR,,referral,2025-03-01T09:00:00Z,lead,
N1,bob@retailer.de,Retailer GmbH,retail,800,9000000,DE,Marketing Manager,paid_search,2025-05-01T09:00:00+02:00,lead,
D1,carl@gmail.com,Small Shop,retail,5,100000,BR,Student,social,2024-01-01 09:00:00,subscriber,
C1,dora@buyer.fr,Buyer SA,finance,150,5000000,FR,CFO,event,2024-06-01T09:00:00Z,customer,2025-01-15T10:00:00Z
"""

EVENTS = """event_id,lead_id,event_type,occurred_at,properties
E01,G1,demo_request,2026-11-14T10:00:00Z,"{""url"": ""/demo""}"
E02,G1,demo_request,2026-11-17T10:00:00Z,"{""url"": ""/demo""}"
E03,G1,demo_request,2026-11-19T15:00:00Z,"{""url"": ""/demo""}"
E04,G1,pricing_page_view,2026-11-15T10:00:00Z,"{""url"": ""/pricing""}"
E05,G1,pricing_page_view,2026-11-18T10:00:00Z,"{""url"": ""/pricing""}"
E06,G1,pricing_page_view,2026-11-19T10:00:00Z,"{""url"": ""/pricing""}"
E07,G1,content_download,2026-11-16T10:00:00Z,"{""url"": ""/whitepaper"", ""campaign"": ""q4""}"
E08,G1,content_download,2026-11-18T11:00:00Z,"{""url"": ""/ebook""}"
E09,G1,content_download,2026-11-19T12:00:00Z,"{""url"": ""/brochure""}"
E10,G1,demo_request,2026-11-25T10:00:00Z,"{""url"": ""/demo""}"
E11,N1,webinar_attended,2026-11-10T10:00:00Z,{}
E12,N1,pricing_page_view,2026-11-12T10:00:00Z,{}
E13,D1,email_bounce,2026-10-01T10:00:00Z,"{""bounce_type"": ""hard""}"
E14,D1,unsubscribe,2026-10-02T10:00:00Z,{}
E15,X9,page_view,2026-11-01T10:00:00Z,{}
E16,N1,page_veiw,2026-11-01T10:00:00Z,{}
E17,N1,page_view,yesterday,{}
"""

ORDERS = """order_id,lead_id,ordered_at,amount,currency,status
O1,C1,2025-02-01T10:00:00Z,1200.00,EUR,completed
O2,C1,2026-11-01T10:00:00Z,900.00,USD,completed
O3,C1,2026-11-02T10:00:00Z,-50,EUR,completed
"""


def write_export(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leads.csv").write_text(LEADS)
    (folder / "events.csv").write_text(EVENTS)
    (folder / "orders.csv").write_text(ORDERS)
    return folder
