"""django.contrib.admin with our site (`campaign.admin_site`); kept apart from the site because
INSTALLED_APPS imports this module before any model can be."""

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    default_site = "campaign.admin_site.SegmentOneAdminSite"
