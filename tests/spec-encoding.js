// Write Twilio's OpenAPI spec (YAML, argument 1) as JSON to argument 2.
// Every array field of a form request body gets an explicit encoding:
// OpenAPI's default for forms, style form, exploded (one repeated key per
// element). Prism parses a repeated form key as an array only when the
// spec has such an entry, and the entry changes no meaning.
// Runs with the node and js-yaml that scripts/install-prism installed.
'use strict';
const fs = require('fs');
const path = require('path');
const yaml = require(path.join(__dirname, '..', '.cache', 'prism',
    'node_modules', 'js-yaml'));

// js-yaml 3 names its safe loader safeLoad, js-yaml 4 load.
const load = yaml.safeLoad || yaml.load;
const spec = load(fs.readFileSync(process.argv[2], 'utf8'));
for (const item of Object.values(spec.paths || {})) {
	for (const op of Object.values(item)) {
		const form = op && op.requestBody && op.requestBody.content &&
		    op.requestBody.content['application/x-www-form-urlencoded'];
		const props = form && form.schema && form.schema.properties;
		if (!props)
			continue;
		for (const [name, prop] of Object.entries(props)) {
			if (prop.type !== 'array')
				continue;
			form.encoding = form.encoding || {};
			if (!form.encoding[name])
				form.encoding[name] = { style: 'form', explode: true };
		}
	}
}
fs.writeFileSync(process.argv[3], JSON.stringify(spec));
