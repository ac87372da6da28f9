-- Time zones of North American Numbering Plan area codes, and the
-- functions that convo-send uses to find a customer's local time for
-- --quiet-hours: the profile's time zone first, then the zone of a +1
-- number's area code.

-- One row per geographic area code (NPA) in service or announced in the
-- US, its territories, Canada and the Caribbean members of the plan, as
-- of 2025. The table is the same for every account, so it has no
-- account_id; with Citus it would be a reference table.
-- NOTE: the list was written by hand and not checked against the NANPA
-- list of assigned codes, so a code may be missing or not yet in use. A
-- number whose area code has no row counts as being of unknown zone.
--
-- region is an ISO 3166-2 code for a state or province ("US-NY",
-- "CA-ON") or an ISO 3166-1 code for a country or US territory ("JM",
-- "PR"), with commas between the codes of an area code that serves
-- several.
--
-- The zone of an area code that spans two zones is an estimate: the zone
-- where most of its people live. These codes, and the part of their area
-- in the other zone, are:
--   Alaska 907: Anchorage; the western Aleutians keep Hawaii-Aleutian time.
--   Arizona 928: Phoenix, without DST; the Navajo Nation observes DST.
--   Florida 448, 850: Central; the panhandle east of the Apalachicola
--     River, with Tallahassee, is Eastern.
--   Idaho 208, 986: Mountain (Boise); the northern panhandle is Pacific.
--   Indiana 574, 812, 930: Eastern; Starke County (574) and the
--     Evansville corner (812, 930) are Central.
--   Kansas 620, 785: Central; four western counties are Mountain.
--   Kentucky 270, 364: Central; the eastern part is Eastern.
--   Kentucky 606: Eastern; a few south-central counties are Central.
--   Michigan 906: Eastern; four counties on the Wisconsin border are
--     Central.
--   Nebraska 308: Central; the panhandle is Mountain.
--   Nevada 775: Pacific; West Wendover is Mountain.
--   North Dakota 701, South Dakota 605: Central; the southwest of North
--     Dakota and the west of South Dakota are Mountain.
--   Oregon 458, 541: Pacific; most of Malheur County is Mountain.
--   Tennessee 423: Eastern; a few counties west of Chattanooga are
--     Central.
--   Texas 432: Central; Culberson County is Mountain. El Paso (915) is
--     Mountain throughout.
--   British Columbia 236, 250, 257, 672, 778: Pacific; the East Kootenay
--     region is Mountain, and the Peace River region and Creston keep
--     Mountain standard time all year.
--   Saskatchewan 306, 474, 639: Regina, Central standard time all year;
--     Lloydminster keeps Alberta time.
--   Ontario 807: Eastern (Thunder Bay); the region west of it is Central.
--   Quebec 367, 418, 581: Eastern; the Magdalen Islands and the Lower
--     North Shore are Atlantic.
--   Newfoundland and Labrador 709, 879: Newfoundland time; most of
--     Labrador is Atlantic.
--   Yukon, Northwest Territories and Nunavut 867: Mountain (Edmonton);
--     Yukon keeps UTC-7 all year, and Nunavut spans Mountain to Eastern.
--
-- Non-geographic codes, such as the toll-free 800, 833, 844, 855, 866,
-- 877 and 888, the premium 900, the personal 5XX codes, 600, 622, 700
-- and 710, have no row: their numbers can be anywhere.
CREATE TABLE convo.area_code_zones (
    area_code text PRIMARY KEY,
    -- IANA time zone name, as PostgreSQL knows it.
    zone text NOT NULL,
    region text NOT NULL,
    CHECK (area_code ~ '^[2-9][0-9]{2}$')
);

-- A reference table, the same for every account: mapped roles may read
-- it, and only the owner writes it.
ALTER TABLE convo.area_code_zones ENABLE ROW LEVEL SECURITY;
CREATE POLICY reference_read ON convo.area_code_zones
    FOR SELECT
    USING (true);

INSERT INTO convo.area_code_zones (area_code, zone, region) VALUES
    -- United States
    ('205', 'America/Chicago', 'US-AL'),
    ('251', 'America/Chicago', 'US-AL'),
    ('256', 'America/Chicago', 'US-AL'),
    ('334', 'America/Chicago', 'US-AL'),
    ('659', 'America/Chicago', 'US-AL'),
    ('938', 'America/Chicago', 'US-AL'),
    ('907', 'America/Anchorage', 'US-AK'),
    ('480', 'America/Phoenix', 'US-AZ'),
    ('520', 'America/Phoenix', 'US-AZ'),
    ('602', 'America/Phoenix', 'US-AZ'),
    ('623', 'America/Phoenix', 'US-AZ'),
    ('928', 'America/Phoenix', 'US-AZ'),
    ('327', 'America/Chicago', 'US-AR'),
    ('479', 'America/Chicago', 'US-AR'),
    ('501', 'America/Chicago', 'US-AR'),
    ('870', 'America/Chicago', 'US-AR'),
    ('209', 'America/Los_Angeles', 'US-CA'),
    ('213', 'America/Los_Angeles', 'US-CA'),
    ('279', 'America/Los_Angeles', 'US-CA'),
    ('310', 'America/Los_Angeles', 'US-CA'),
    ('323', 'America/Los_Angeles', 'US-CA'),
    ('341', 'America/Los_Angeles', 'US-CA'),
    ('350', 'America/Los_Angeles', 'US-CA'),
    ('357', 'America/Los_Angeles', 'US-CA'),
    ('369', 'America/Los_Angeles', 'US-CA'),
    ('408', 'America/Los_Angeles', 'US-CA'),
    ('415', 'America/Los_Angeles', 'US-CA'),
    ('424', 'America/Los_Angeles', 'US-CA'),
    ('442', 'America/Los_Angeles', 'US-CA'),
    ('510', 'America/Los_Angeles', 'US-CA'),
    ('530', 'America/Los_Angeles', 'US-CA'),
    ('559', 'America/Los_Angeles', 'US-CA'),
    ('562', 'America/Los_Angeles', 'US-CA'),
    ('619', 'America/Los_Angeles', 'US-CA'),
    ('626', 'America/Los_Angeles', 'US-CA'),
    ('628', 'America/Los_Angeles', 'US-CA'),
    ('650', 'America/Los_Angeles', 'US-CA'),
    ('657', 'America/Los_Angeles', 'US-CA'),
    ('661', 'America/Los_Angeles', 'US-CA'),
    ('669', 'America/Los_Angeles', 'US-CA'),
    ('707', 'America/Los_Angeles', 'US-CA'),
    ('714', 'America/Los_Angeles', 'US-CA'),
    ('738', 'America/Los_Angeles', 'US-CA'),
    ('747', 'America/Los_Angeles', 'US-CA'),
    ('760', 'America/Los_Angeles', 'US-CA'),
    ('805', 'America/Los_Angeles', 'US-CA'),
    ('818', 'America/Los_Angeles', 'US-CA'),
    ('820', 'America/Los_Angeles', 'US-CA'),
    ('831', 'America/Los_Angeles', 'US-CA'),
    ('840', 'America/Los_Angeles', 'US-CA'),
    ('858', 'America/Los_Angeles', 'US-CA'),
    ('909', 'America/Los_Angeles', 'US-CA'),
    ('916', 'America/Los_Angeles', 'US-CA'),
    ('925', 'America/Los_Angeles', 'US-CA'),
    ('949', 'America/Los_Angeles', 'US-CA'),
    ('951', 'America/Los_Angeles', 'US-CA'),
    ('303', 'America/Denver', 'US-CO'),
    ('719', 'America/Denver', 'US-CO'),
    ('720', 'America/Denver', 'US-CO'),
    ('970', 'America/Denver', 'US-CO'),
    ('983', 'America/Denver', 'US-CO'),
    ('203', 'America/New_York', 'US-CT'),
    ('475', 'America/New_York', 'US-CT'),
    ('860', 'America/New_York', 'US-CT'),
    ('959', 'America/New_York', 'US-CT'),
    ('302', 'America/New_York', 'US-DE'),
    ('202', 'America/New_York', 'US-DC'),
    ('771', 'America/New_York', 'US-DC'),
    ('239', 'America/New_York', 'US-FL'),
    ('305', 'America/New_York', 'US-FL'),
    ('321', 'America/New_York', 'US-FL'),
    ('324', 'America/New_York', 'US-FL'),
    ('352', 'America/New_York', 'US-FL'),
    ('386', 'America/New_York', 'US-FL'),
    ('407', 'America/New_York', 'US-FL'),
    ('561', 'America/New_York', 'US-FL'),
    ('645', 'America/New_York', 'US-FL'),
    ('656', 'America/New_York', 'US-FL'),
    ('689', 'America/New_York', 'US-FL'),
    ('727', 'America/New_York', 'US-FL'),
    ('728', 'America/New_York', 'US-FL'),
    ('754', 'America/New_York', 'US-FL'),
    ('772', 'America/New_York', 'US-FL'),
    ('786', 'America/New_York', 'US-FL'),
    ('813', 'America/New_York', 'US-FL'),
    ('863', 'America/New_York', 'US-FL'),
    ('904', 'America/New_York', 'US-FL'),
    ('941', 'America/New_York', 'US-FL'),
    ('954', 'America/New_York', 'US-FL'),
    ('448', 'America/Chicago', 'US-FL'),
    ('850', 'America/Chicago', 'US-FL'),
    ('229', 'America/New_York', 'US-GA'),
    ('404', 'America/New_York', 'US-GA'),
    ('470', 'America/New_York', 'US-GA'),
    ('478', 'America/New_York', 'US-GA'),
    ('678', 'America/New_York', 'US-GA'),
    ('706', 'America/New_York', 'US-GA'),
    ('762', 'America/New_York', 'US-GA'),
    ('770', 'America/New_York', 'US-GA'),
    ('912', 'America/New_York', 'US-GA'),
    ('943', 'America/New_York', 'US-GA'),
    ('808', 'Pacific/Honolulu', 'US-HI'),
    ('208', 'America/Boise', 'US-ID'),
    ('986', 'America/Boise', 'US-ID'),
    ('217', 'America/Chicago', 'US-IL'),
    ('224', 'America/Chicago', 'US-IL'),
    ('309', 'America/Chicago', 'US-IL'),
    ('312', 'America/Chicago', 'US-IL'),
    ('331', 'America/Chicago', 'US-IL'),
    ('447', 'America/Chicago', 'US-IL'),
    ('464', 'America/Chicago', 'US-IL'),
    ('618', 'America/Chicago', 'US-IL'),
    ('630', 'America/Chicago', 'US-IL'),
    ('708', 'America/Chicago', 'US-IL'),
    ('730', 'America/Chicago', 'US-IL'),
    ('773', 'America/Chicago', 'US-IL'),
    ('779', 'America/Chicago', 'US-IL'),
    ('815', 'America/Chicago', 'US-IL'),
    ('847', 'America/Chicago', 'US-IL'),
    ('861', 'America/Chicago', 'US-IL'),
    ('872', 'America/Chicago', 'US-IL'),
    ('260', 'America/Indiana/Indianapolis', 'US-IN'),
    ('317', 'America/Indiana/Indianapolis', 'US-IN'),
    ('463', 'America/Indiana/Indianapolis', 'US-IN'),
    ('574', 'America/Indiana/Indianapolis', 'US-IN'),
    ('765', 'America/Indiana/Indianapolis', 'US-IN'),
    ('812', 'America/Indiana/Indianapolis', 'US-IN'),
    ('930', 'America/Indiana/Indianapolis', 'US-IN'),
    ('219', 'America/Chicago', 'US-IN'),
    ('319', 'America/Chicago', 'US-IA'),
    ('515', 'America/Chicago', 'US-IA'),
    ('563', 'America/Chicago', 'US-IA'),
    ('641', 'America/Chicago', 'US-IA'),
    ('712', 'America/Chicago', 'US-IA'),
    ('316', 'America/Chicago', 'US-KS'),
    ('620', 'America/Chicago', 'US-KS'),
    ('785', 'America/Chicago', 'US-KS'),
    ('913', 'America/Chicago', 'US-KS'),
    ('270', 'America/Chicago', 'US-KY'),
    ('364', 'America/Chicago', 'US-KY'),
    ('502', 'America/Kentucky/Louisville', 'US-KY'),
    ('606', 'America/New_York', 'US-KY'),
    ('859', 'America/New_York', 'US-KY'),
    ('225', 'America/Chicago', 'US-LA'),
    ('318', 'America/Chicago', 'US-LA'),
    ('337', 'America/Chicago', 'US-LA'),
    ('457', 'America/Chicago', 'US-LA'),
    ('504', 'America/Chicago', 'US-LA'),
    ('985', 'America/Chicago', 'US-LA'),
    ('207', 'America/New_York', 'US-ME'),
    ('227', 'America/New_York', 'US-MD'),
    ('240', 'America/New_York', 'US-MD'),
    ('301', 'America/New_York', 'US-MD'),
    ('410', 'America/New_York', 'US-MD'),
    ('443', 'America/New_York', 'US-MD'),
    ('667', 'America/New_York', 'US-MD'),
    ('339', 'America/New_York', 'US-MA'),
    ('351', 'America/New_York', 'US-MA'),
    ('413', 'America/New_York', 'US-MA'),
    ('508', 'America/New_York', 'US-MA'),
    ('617', 'America/New_York', 'US-MA'),
    ('774', 'America/New_York', 'US-MA'),
    ('781', 'America/New_York', 'US-MA'),
    ('857', 'America/New_York', 'US-MA'),
    ('978', 'America/New_York', 'US-MA'),
    ('231', 'America/Detroit', 'US-MI'),
    ('248', 'America/Detroit', 'US-MI'),
    ('269', 'America/Detroit', 'US-MI'),
    ('313', 'America/Detroit', 'US-MI'),
    ('517', 'America/Detroit', 'US-MI'),
    ('586', 'America/Detroit', 'US-MI'),
    ('616', 'America/Detroit', 'US-MI'),
    ('679', 'America/Detroit', 'US-MI'),
    ('734', 'America/Detroit', 'US-MI'),
    ('810', 'America/Detroit', 'US-MI'),
    ('906', 'America/Detroit', 'US-MI'),
    ('947', 'America/Detroit', 'US-MI'),
    ('989', 'America/Detroit', 'US-MI'),
    ('218', 'America/Chicago', 'US-MN'),
    ('320', 'America/Chicago', 'US-MN'),
    ('507', 'America/Chicago', 'US-MN'),
    ('612', 'America/Chicago', 'US-MN'),
    ('651', 'America/Chicago', 'US-MN'),
    ('763', 'America/Chicago', 'US-MN'),
    ('924', 'America/Chicago', 'US-MN'),
    ('952', 'America/Chicago', 'US-MN'),
    ('228', 'America/Chicago', 'US-MS'),
    ('601', 'America/Chicago', 'US-MS'),
    ('662', 'America/Chicago', 'US-MS'),
    ('769', 'America/Chicago', 'US-MS'),
    ('235', 'America/Chicago', 'US-MO'),
    ('314', 'America/Chicago', 'US-MO'),
    ('417', 'America/Chicago', 'US-MO'),
    ('557', 'America/Chicago', 'US-MO'),
    ('573', 'America/Chicago', 'US-MO'),
    ('636', 'America/Chicago', 'US-MO'),
    ('660', 'America/Chicago', 'US-MO'),
    ('816', 'America/Chicago', 'US-MO'),
    ('975', 'America/Chicago', 'US-MO'),
    ('406', 'America/Denver', 'US-MT'),
    ('308', 'America/Chicago', 'US-NE'),
    ('402', 'America/Chicago', 'US-NE'),
    ('531', 'America/Chicago', 'US-NE'),
    ('702', 'America/Los_Angeles', 'US-NV'),
    ('725', 'America/Los_Angeles', 'US-NV'),
    ('775', 'America/Los_Angeles', 'US-NV'),
    ('603', 'America/New_York', 'US-NH'),
    ('201', 'America/New_York', 'US-NJ'),
    ('551', 'America/New_York', 'US-NJ'),
    ('609', 'America/New_York', 'US-NJ'),
    ('640', 'America/New_York', 'US-NJ'),
    ('732', 'America/New_York', 'US-NJ'),
    ('848', 'America/New_York', 'US-NJ'),
    ('856', 'America/New_York', 'US-NJ'),
    ('862', 'America/New_York', 'US-NJ'),
    ('908', 'America/New_York', 'US-NJ'),
    ('973', 'America/New_York', 'US-NJ'),
    ('505', 'America/Denver', 'US-NM'),
    ('575', 'America/Denver', 'US-NM'),
    ('212', 'America/New_York', 'US-NY'),
    ('315', 'America/New_York', 'US-NY'),
    ('329', 'America/New_York', 'US-NY'),
    ('332', 'America/New_York', 'US-NY'),
    ('347', 'America/New_York', 'US-NY'),
    ('363', 'America/New_York', 'US-NY'),
    ('516', 'America/New_York', 'US-NY'),
    ('518', 'America/New_York', 'US-NY'),
    ('585', 'America/New_York', 'US-NY'),
    ('607', 'America/New_York', 'US-NY'),
    ('624', 'America/New_York', 'US-NY'),
    ('631', 'America/New_York', 'US-NY'),
    ('646', 'America/New_York', 'US-NY'),
    ('680', 'America/New_York', 'US-NY'),
    ('716', 'America/New_York', 'US-NY'),
    ('718', 'America/New_York', 'US-NY'),
    ('838', 'America/New_York', 'US-NY'),
    ('845', 'America/New_York', 'US-NY'),
    ('914', 'America/New_York', 'US-NY'),
    ('917', 'America/New_York', 'US-NY'),
    ('929', 'America/New_York', 'US-NY'),
    ('934', 'America/New_York', 'US-NY'),
    ('252', 'America/New_York', 'US-NC'),
    ('336', 'America/New_York', 'US-NC'),
    ('472', 'America/New_York', 'US-NC'),
    ('704', 'America/New_York', 'US-NC'),
    ('743', 'America/New_York', 'US-NC'),
    ('828', 'America/New_York', 'US-NC'),
    ('910', 'America/New_York', 'US-NC'),
    ('919', 'America/New_York', 'US-NC'),
    ('980', 'America/New_York', 'US-NC'),
    ('984', 'America/New_York', 'US-NC'),
    ('701', 'America/Chicago', 'US-ND'),
    ('216', 'America/New_York', 'US-OH'),
    ('220', 'America/New_York', 'US-OH'),
    ('234', 'America/New_York', 'US-OH'),
    ('283', 'America/New_York', 'US-OH'),
    ('326', 'America/New_York', 'US-OH'),
    ('330', 'America/New_York', 'US-OH'),
    ('380', 'America/New_York', 'US-OH'),
    ('419', 'America/New_York', 'US-OH'),
    ('436', 'America/New_York', 'US-OH'),
    ('440', 'America/New_York', 'US-OH'),
    ('513', 'America/New_York', 'US-OH'),
    ('567', 'America/New_York', 'US-OH'),
    ('614', 'America/New_York', 'US-OH'),
    ('740', 'America/New_York', 'US-OH'),
    ('937', 'America/New_York', 'US-OH'),
    ('405', 'America/Chicago', 'US-OK'),
    ('539', 'America/Chicago', 'US-OK'),
    ('572', 'America/Chicago', 'US-OK'),
    ('580', 'America/Chicago', 'US-OK'),
    ('918', 'America/Chicago', 'US-OK'),
    ('458', 'America/Los_Angeles', 'US-OR'),
    ('503', 'America/Los_Angeles', 'US-OR'),
    ('541', 'America/Los_Angeles', 'US-OR'),
    ('971', 'America/Los_Angeles', 'US-OR'),
    ('215', 'America/New_York', 'US-PA'),
    ('223', 'America/New_York', 'US-PA'),
    ('267', 'America/New_York', 'US-PA'),
    ('272', 'America/New_York', 'US-PA'),
    ('412', 'America/New_York', 'US-PA'),
    ('445', 'America/New_York', 'US-PA'),
    ('484', 'America/New_York', 'US-PA'),
    ('570', 'America/New_York', 'US-PA'),
    ('582', 'America/New_York', 'US-PA'),
    ('610', 'America/New_York', 'US-PA'),
    ('717', 'America/New_York', 'US-PA'),
    ('724', 'America/New_York', 'US-PA'),
    ('814', 'America/New_York', 'US-PA'),
    ('835', 'America/New_York', 'US-PA'),
    ('878', 'America/New_York', 'US-PA'),
    ('401', 'America/New_York', 'US-RI'),
    ('803', 'America/New_York', 'US-SC'),
    ('821', 'America/New_York', 'US-SC'),
    ('839', 'America/New_York', 'US-SC'),
    ('843', 'America/New_York', 'US-SC'),
    ('854', 'America/New_York', 'US-SC'),
    ('864', 'America/New_York', 'US-SC'),
    ('605', 'America/Chicago', 'US-SD'),
    ('423', 'America/New_York', 'US-TN'),
    ('865', 'America/New_York', 'US-TN'),
    ('615', 'America/Chicago', 'US-TN'),
    ('629', 'America/Chicago', 'US-TN'),
    ('731', 'America/Chicago', 'US-TN'),
    ('901', 'America/Chicago', 'US-TN'),
    ('931', 'America/Chicago', 'US-TN'),
    ('210', 'America/Chicago', 'US-TX'),
    ('214', 'America/Chicago', 'US-TX'),
    ('254', 'America/Chicago', 'US-TX'),
    ('281', 'America/Chicago', 'US-TX'),
    ('325', 'America/Chicago', 'US-TX'),
    ('346', 'America/Chicago', 'US-TX'),
    ('361', 'America/Chicago', 'US-TX'),
    ('409', 'America/Chicago', 'US-TX'),
    ('430', 'America/Chicago', 'US-TX'),
    ('432', 'America/Chicago', 'US-TX'),
    ('469', 'America/Chicago', 'US-TX'),
    ('512', 'America/Chicago', 'US-TX'),
    ('682', 'America/Chicago', 'US-TX'),
    ('713', 'America/Chicago', 'US-TX'),
    ('726', 'America/Chicago', 'US-TX'),
    ('737', 'America/Chicago', 'US-TX'),
    ('806', 'America/Chicago', 'US-TX'),
    ('817', 'America/Chicago', 'US-TX'),
    ('830', 'America/Chicago', 'US-TX'),
    ('832', 'America/Chicago', 'US-TX'),
    ('903', 'America/Chicago', 'US-TX'),
    ('936', 'America/Chicago', 'US-TX'),
    ('940', 'America/Chicago', 'US-TX'),
    ('945', 'America/Chicago', 'US-TX'),
    ('956', 'America/Chicago', 'US-TX'),
    ('972', 'America/Chicago', 'US-TX'),
    ('979', 'America/Chicago', 'US-TX'),
    ('915', 'America/Denver', 'US-TX'),
    ('385', 'America/Denver', 'US-UT'),
    ('435', 'America/Denver', 'US-UT'),
    ('801', 'America/Denver', 'US-UT'),
    ('802', 'America/New_York', 'US-VT'),
    ('276', 'America/New_York', 'US-VA'),
    ('434', 'America/New_York', 'US-VA'),
    ('540', 'America/New_York', 'US-VA'),
    ('571', 'America/New_York', 'US-VA'),
    ('686', 'America/New_York', 'US-VA'),
    ('703', 'America/New_York', 'US-VA'),
    ('757', 'America/New_York', 'US-VA'),
    ('804', 'America/New_York', 'US-VA'),
    ('826', 'America/New_York', 'US-VA'),
    ('948', 'America/New_York', 'US-VA'),
    ('206', 'America/Los_Angeles', 'US-WA'),
    ('253', 'America/Los_Angeles', 'US-WA'),
    ('360', 'America/Los_Angeles', 'US-WA'),
    ('425', 'America/Los_Angeles', 'US-WA'),
    ('509', 'America/Los_Angeles', 'US-WA'),
    ('564', 'America/Los_Angeles', 'US-WA'),
    ('304', 'America/New_York', 'US-WV'),
    ('681', 'America/New_York', 'US-WV'),
    ('262', 'America/Chicago', 'US-WI'),
    ('274', 'America/Chicago', 'US-WI'),
    ('353', 'America/Chicago', 'US-WI'),
    ('414', 'America/Chicago', 'US-WI'),
    ('534', 'America/Chicago', 'US-WI'),
    ('608', 'America/Chicago', 'US-WI'),
    ('715', 'America/Chicago', 'US-WI'),
    ('920', 'America/Chicago', 'US-WI'),
    ('307', 'America/Denver', 'US-WY'),
    -- US territories
    ('684', 'Pacific/Pago_Pago', 'AS'),
    ('671', 'Pacific/Guam', 'GU'),
    ('670', 'Pacific/Saipan', 'MP'),
    ('787', 'America/Puerto_Rico', 'PR'),
    ('939', 'America/Puerto_Rico', 'PR'),
    ('340', 'America/St_Thomas', 'VI'),
    -- Canada
    ('368', 'America/Edmonton', 'CA-AB'),
    ('403', 'America/Edmonton', 'CA-AB'),
    ('587', 'America/Edmonton', 'CA-AB'),
    ('780', 'America/Edmonton', 'CA-AB'),
    ('825', 'America/Edmonton', 'CA-AB'),
    ('236', 'America/Vancouver', 'CA-BC'),
    ('250', 'America/Vancouver', 'CA-BC'),
    ('257', 'America/Vancouver', 'CA-BC'),
    ('604', 'America/Vancouver', 'CA-BC'),
    ('672', 'America/Vancouver', 'CA-BC'),
    ('778', 'America/Vancouver', 'CA-BC'),
    ('204', 'America/Winnipeg', 'CA-MB'),
    ('431', 'America/Winnipeg', 'CA-MB'),
    ('584', 'America/Winnipeg', 'CA-MB'),
    ('428', 'America/Moncton', 'CA-NB'),
    ('506', 'America/Moncton', 'CA-NB'),
    ('709', 'America/St_Johns', 'CA-NL'),
    ('879', 'America/St_Johns', 'CA-NL'),
    ('782', 'America/Halifax', 'CA-NS,CA-PE'),
    ('902', 'America/Halifax', 'CA-NS,CA-PE'),
    ('226', 'America/Toronto', 'CA-ON'),
    ('249', 'America/Toronto', 'CA-ON'),
    ('289', 'America/Toronto', 'CA-ON'),
    ('343', 'America/Toronto', 'CA-ON'),
    ('365', 'America/Toronto', 'CA-ON'),
    ('382', 'America/Toronto', 'CA-ON'),
    ('416', 'America/Toronto', 'CA-ON'),
    ('437', 'America/Toronto', 'CA-ON'),
    ('519', 'America/Toronto', 'CA-ON'),
    ('548', 'America/Toronto', 'CA-ON'),
    ('613', 'America/Toronto', 'CA-ON'),
    ('647', 'America/Toronto', 'CA-ON'),
    ('683', 'America/Toronto', 'CA-ON'),
    ('705', 'America/Toronto', 'CA-ON'),
    ('742', 'America/Toronto', 'CA-ON'),
    ('753', 'America/Toronto', 'CA-ON'),
    ('807', 'America/Toronto', 'CA-ON'),
    ('905', 'America/Toronto', 'CA-ON'),
    ('942', 'America/Toronto', 'CA-ON'),
    ('263', 'America/Toronto', 'CA-QC'),
    ('354', 'America/Toronto', 'CA-QC'),
    ('367', 'America/Toronto', 'CA-QC'),
    ('418', 'America/Toronto', 'CA-QC'),
    ('438', 'America/Toronto', 'CA-QC'),
    ('450', 'America/Toronto', 'CA-QC'),
    ('468', 'America/Toronto', 'CA-QC'),
    ('514', 'America/Toronto', 'CA-QC'),
    ('579', 'America/Toronto', 'CA-QC'),
    ('581', 'America/Toronto', 'CA-QC'),
    ('819', 'America/Toronto', 'CA-QC'),
    ('873', 'America/Toronto', 'CA-QC'),
    ('306', 'America/Regina', 'CA-SK'),
    ('474', 'America/Regina', 'CA-SK'),
    ('639', 'America/Regina', 'CA-SK'),
    ('867', 'America/Edmonton', 'CA-NT,CA-NU,CA-YT'),
    -- Caribbean and Atlantic members
    ('268', 'America/Antigua', 'AG'),
    ('264', 'America/Anguilla', 'AI'),
    ('246', 'America/Barbados', 'BB'),
    ('441', 'Atlantic/Bermuda', 'BM'),
    ('242', 'America/Nassau', 'BS'),
    ('767', 'America/Dominica', 'DM'),
    ('809', 'America/Santo_Domingo', 'DO'),
    ('829', 'America/Santo_Domingo', 'DO'),
    ('849', 'America/Santo_Domingo', 'DO'),
    ('473', 'America/Grenada', 'GD'),
    ('658', 'America/Jamaica', 'JM'),
    ('876', 'America/Jamaica', 'JM'),
    ('869', 'America/St_Kitts', 'KN'),
    ('345', 'America/Cayman', 'KY'),
    ('758', 'America/St_Lucia', 'LC'),
    ('664', 'America/Montserrat', 'MS'),
    ('721', 'America/Lower_Princes', 'SX'),
    ('649', 'America/Grand_Turk', 'TC'),
    ('868', 'America/Port_of_Spain', 'TT'),
    ('784', 'America/St_Vincent', 'VC'),
    ('284', 'America/Tortola', 'VG');

-- The local time at P_AT in time zone P_ZONE, in minutes after midnight.
CREATE FUNCTION convo.local_minutes(p_at timestamptz, p_zone text)
RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT (extract(hour FROM p_at AT TIME ZONE p_zone) * 60
        + extract(minute FROM p_at AT TIME ZONE p_zone))::integer;
$$;

-- The time zone of a customer with profile time zone P_TIMEZONE and
-- phone number P_PHONE, and where it comes from: 'profile' when
-- PostgreSQL accepts P_TIMEZONE, else 'area_code' when P_PHONE is a +1
-- number whose area code has a row in convo.area_code_zones, else
-- 'unknown' with a NULL zone.
CREATE FUNCTION convo.customer_zone(p_timezone text, p_phone text,
    OUT zone text, OUT source text)
LANGUAGE sql STABLE AS $$
    SELECT coalesce(t.zone, a.zone),
        CASE WHEN t.zone IS NOT NULL THEN 'profile'
            WHEN a.zone IS NOT NULL THEN 'area_code'
            ELSE 'unknown' END
    FROM (SELECT convo.zone_or_null(p_timezone) AS zone) t
    LEFT JOIN convo.area_code_zones a
        ON p_phone ~ '^\+1[0-9]{10}$' AND a.area_code = substr(p_phone, 3, 3);
$$;

-- The time zones where the customers of account P_ACCOUNT may be: every
-- profile time zone that PostgreSQL accepts and the zone of every +1
-- number's area code, also of customers whose profile has a zone.
-- convo-send defers a message to a customer of unknown zone when any of
-- these zones is in its quiet hours. It scans the account's profiles once.
CREATE FUNCTION convo.account_zones(p_account bigint) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    SELECT z.zone
    FROM (SELECT DISTINCT timezone FROM convo.profiles
        WHERE account_id = p_account AND timezone IS NOT NULL) p
    CROSS JOIN LATERAL (SELECT convo.zone_or_null(p.timezone) AS zone) z
    WHERE z.zone IS NOT NULL
    UNION
    SELECT a.zone FROM convo.area_code_zones a
    WHERE a.area_code IN (SELECT substr(phone, 3, 3) FROM convo.profiles
        WHERE account_id = p_account AND phone ~ '^\+1[0-9]{10}$');
$$;
