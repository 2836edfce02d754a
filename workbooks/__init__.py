"""The scripts that build the shipped workbooks (not part of the installed package):
``python -m workbooks.generate_sample`` (the sample sales, written into ``xl_crm/data``)
and ``python -m workbooks.build_macro_workbook`` (the button workbook), run from the
repository root."""
