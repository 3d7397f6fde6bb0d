"""The published CPL: the public listing, its CSV and XLSX exports, and `import-cpl`."""
