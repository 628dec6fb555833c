"""Tests of gcms.report (a package so its helper modules import as report.*)."""
