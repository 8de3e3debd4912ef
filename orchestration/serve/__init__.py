"""What readers get: the best-ranked leads (top_leads.py), the CRM export, the documentation site and the
Superset dashboard as code."""
