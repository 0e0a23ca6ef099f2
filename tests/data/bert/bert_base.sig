0 Gather c[30522,768],in
1 Add n0,c[768]
2 Add n1,c[256,768]
3 ReduceMean n2 axes=-1
4 Sub n2,n3
5 Pow n4,c[]=2
6 ReduceMean n5 axes=-1
7 Add n6,c[]=1e-12
8 Sqrt n7
9 Div n4,n8
10 Mul n9,c[768]
11 Add n10,c[768]
12 MatMul n11,c[768,768]
13 Add c[768],n12
14 Reshape n13,c[4]=1,256,12,64
15 Transpose n14 perm=0,2,1,3
16 MatMul n11,c[768,768]
17 Add c[768],n16
18 Reshape n17,c[4]=1,256,12,64
19 Transpose n18 perm=0,2,3,1
20 MatMul n11,c[768,768]
21 Add c[768],n20
22 Reshape n21,c[4]=1,256,12,64
23 Transpose n22 perm=0,2,1,3
24 MatMul n15,n19
25 Div n24,c[]=8
26 Softmax n25 axis=-1
27 MatMul n26,n23
28 Transpose n27 perm=0,2,1,3
29 Reshape n28,c[3]=1,256,768
30 MatMul n29,c[768,768]
31 Add c[768],n30
32 Add n31,n11
33 ReduceMean n32 axes=-1
34 Sub n32,n33
35 Pow n34,c[]=2
36 ReduceMean n35 axes=-1
37 Add n36,c[]=1e-12
38 Sqrt n37
39 Div n34,n38
40 Mul n39,c[768]
41 Add n40,c[768]
42 MatMul n41,c[768,3072]
43 Add c[3072],n42
44 Div n43,c[]=1.41421
45 Erf n44
46 Add n45,c[]=1
47 Mul n43,n46
48 Mul n47,c[]=0.5
49 MatMul n48,c[3072,768]
50 Add c[768],n49
51 Add n50,n41
52 ReduceMean n51 axes=-1
53 Sub n51,n52
54 Pow n53,c[]=2
55 ReduceMean n54 axes=-1
56 Add n55,c[]=1e-12
57 Sqrt n56
58 Div n53,n57
59 Mul n58,c[768]
60 Add n59,c[768]
61 MatMul n60,c[768,768]
62 Add c[768],n61
63 Reshape n62,c[4]=1,256,12,64
64 Transpose n63 perm=0,2,1,3
65 MatMul n60,c[768,768]
66 Add c[768],n65
67 Reshape n66,c[4]=1,256,12,64
68 Transpose n67 perm=0,2,3,1
69 MatMul n60,c[768,768]
70 Add c[768],n69
71 Reshape n70,c[4]=1,256,12,64
72 Transpose n71 perm=0,2,1,3
73 MatMul n64,n68
74 Div n73,c[]=8
75 Softmax n74 axis=-1
76 MatMul n75,n72
77 Transpose n76 perm=0,2,1,3
78 Reshape n77,c[3]=1,256,768
79 MatMul n78,c[768,768]
80 Add c[768],n79
81 Add n80,n60
82 ReduceMean n81 axes=-1
83 Sub n81,n82
84 Pow n83,c[]=2
85 ReduceMean n84 axes=-1
86 Add n85,c[]=1e-12
87 Sqrt n86
88 Div n83,n87
89 Mul n88,c[768]
90 Add n89,c[768]
91 MatMul n90,c[768,3072]
92 Add c[3072],n91
93 Div n92,c[]=1.41421
94 Erf n93
95 Add n94,c[]=1
96 Mul n92,n95
97 Mul n96,c[]=0.5
98 MatMul n97,c[3072,768]
99 Add c[768],n98
100 Add n99,n90
101 ReduceMean n100 axes=-1
102 Sub n100,n101
103 Pow n102,c[]=2
104 ReduceMean n103 axes=-1
105 Add n104,c[]=1e-12
106 Sqrt n105
107 Div n102,n106
108 Mul n107,c[768]
109 Add n108,c[768]
110 MatMul n109,c[768,768]
111 Add c[768],n110
112 Reshape n111,c[4]=1,256,12,64
113 Transpose n112 perm=0,2,1,3
114 MatMul n109,c[768,768]
115 Add c[768],n114
116 Reshape n115,c[4]=1,256,12,64
117 Transpose n116 perm=0,2,3,1
118 MatMul n109,c[768,768]
119 Add c[768],n118
120 Reshape n119,c[4]=1,256,12,64
121 Transpose n120 perm=0,2,1,3
122 MatMul n113,n117
123 Div n122,c[]=8
124 Softmax n123 axis=-1
125 MatMul n124,n121
126 Transpose n125 perm=0,2,1,3
127 Reshape n126,c[3]=1,256,768
128 MatMul n127,c[768,768]
129 Add c[768],n128
130 Add n129,n109
131 ReduceMean n130 axes=-1
132 Sub n130,n131
133 Pow n132,c[]=2
134 ReduceMean n133 axes=-1
135 Add n134,c[]=1e-12
136 Sqrt n135
137 Div n132,n136
138 Mul n137,c[768]
139 Add n138,c[768]
140 MatMul n139,c[768,3072]
141 Add c[3072],n140
142 Div n141,c[]=1.41421
143 Erf n142
144 Add n143,c[]=1
145 Mul n141,n144
146 Mul n145,c[]=0.5
147 MatMul n146,c[3072,768]
148 Add c[768],n147
149 Add n148,n139
150 ReduceMean n149 axes=-1
151 Sub n149,n150
152 Pow n151,c[]=2
153 ReduceMean n152 axes=-1
154 Add n153,c[]=1e-12
155 Sqrt n154
156 Div n151,n155
157 Mul n156,c[768]
158 Add n157,c[768]
159 MatMul n158,c[768,768]
160 Add c[768],n159
161 Reshape n160,c[4]=1,256,12,64
162 Transpose n161 perm=0,2,1,3
163 MatMul n158,c[768,768]
164 Add c[768],n163
165 Reshape n164,c[4]=1,256,12,64
166 Transpose n165 perm=0,2,3,1
167 MatMul n158,c[768,768]
168 Add c[768],n167
169 Reshape n168,c[4]=1,256,12,64
170 Transpose n169 perm=0,2,1,3
171 MatMul n162,n166
172 Div n171,c[]=8
173 Softmax n172 axis=-1
174 MatMul n173,n170
175 Transpose n174 perm=0,2,1,3
176 Reshape n175,c[3]=1,256,768
177 MatMul n176,c[768,768]
178 Add c[768],n177
179 Add n178,n158
180 ReduceMean n179 axes=-1
181 Sub n179,n180
182 Pow n181,c[]=2
183 ReduceMean n182 axes=-1
184 Add n183,c[]=1e-12
185 Sqrt n184
186 Div n181,n185
187 Mul n186,c[768]
188 Add n187,c[768]
189 MatMul n188,c[768,3072]
190 Add c[3072],n189
191 Div n190,c[]=1.41421
192 Erf n191
193 Add n192,c[]=1
194 Mul n190,n193
195 Mul n194,c[]=0.5
196 MatMul n195,c[3072,768]
197 Add c[768],n196
198 Add n197,n188
199 ReduceMean n198 axes=-1
200 Sub n198,n199
201 Pow n200,c[]=2
202 ReduceMean n201 axes=-1
203 Add n202,c[]=1e-12
204 Sqrt n203
205 Div n200,n204
206 Mul n205,c[768]
207 Add n206,c[768]
208 MatMul n207,c[768,768]
209 Add c[768],n208
210 Reshape n209,c[4]=1,256,12,64
211 Transpose n210 perm=0,2,1,3
212 MatMul n207,c[768,768]
213 Add c[768],n212
214 Reshape n213,c[4]=1,256,12,64
215 Transpose n214 perm=0,2,3,1
216 MatMul n207,c[768,768]
217 Add c[768],n216
218 Reshape n217,c[4]=1,256,12,64
219 Transpose n218 perm=0,2,1,3
220 MatMul n211,n215
221 Div n220,c[]=8
222 Softmax n221 axis=-1
223 MatMul n222,n219
224 Transpose n223 perm=0,2,1,3
225 Reshape n224,c[3]=1,256,768
226 MatMul n225,c[768,768]
227 Add c[768],n226
228 Add n227,n207
229 ReduceMean n228 axes=-1
230 Sub n228,n229
231 Pow n230,c[]=2
232 ReduceMean n231 axes=-1
233 Add n232,c[]=1e-12
234 Sqrt n233
235 Div n230,n234
236 Mul n235,c[768]
237 Add n236,c[768]
238 MatMul n237,c[768,3072]
239 Add c[3072],n238
240 Div n239,c[]=1.41421
241 Erf n240
242 Add n241,c[]=1
243 Mul n239,n242
244 Mul n243,c[]=0.5
245 MatMul n244,c[3072,768]
246 Add c[768],n245
247 Add n246,n237
248 ReduceMean n247 axes=-1
249 Sub n247,n248
250 Pow n249,c[]=2
251 ReduceMean n250 axes=-1
252 Add n251,c[]=1e-12
253 Sqrt n252
254 Div n249,n253
255 Mul n254,c[768]
256 Add n255,c[768]
257 MatMul n256,c[768,768]
258 Add c[768],n257
259 Reshape n258,c[4]=1,256,12,64
260 Transpose n259 perm=0,2,1,3
261 MatMul n256,c[768,768]
262 Add c[768],n261
263 Reshape n262,c[4]=1,256,12,64
264 Transpose n263 perm=0,2,3,1
265 MatMul n256,c[768,768]
266 Add c[768],n265
267 Reshape n266,c[4]=1,256,12,64
268 Transpose n267 perm=0,2,1,3
269 MatMul n260,n264
270 Div n269,c[]=8
271 Softmax n270 axis=-1
272 MatMul n271,n268
273 Transpose n272 perm=0,2,1,3
274 Reshape n273,c[3]=1,256,768
275 MatMul n274,c[768,768]
276 Add c[768],n275
277 Add n276,n256
278 ReduceMean n277 axes=-1
279 Sub n277,n278
280 Pow n279,c[]=2
281 ReduceMean n280 axes=-1
282 Add n281,c[]=1e-12
283 Sqrt n282
284 Div n279,n283
285 Mul n284,c[768]
286 Add n285,c[768]
287 MatMul n286,c[768,3072]
288 Add c[3072],n287
289 Div n288,c[]=1.41421
290 Erf n289
291 Add n290,c[]=1
292 Mul n288,n291
293 Mul n292,c[]=0.5
294 MatMul n293,c[3072,768]
295 Add c[768],n294
296 Add n295,n286
297 ReduceMean n296 axes=-1
298 Sub n296,n297
299 Pow n298,c[]=2
300 ReduceMean n299 axes=-1
301 Add n300,c[]=1e-12
302 Sqrt n301
303 Div n298,n302
304 Mul n303,c[768]
305 Add n304,c[768]
306 MatMul n305,c[768,768]
307 Add c[768],n306
308 Reshape n307,c[4]=1,256,12,64
309 Transpose n308 perm=0,2,1,3
310 MatMul n305,c[768,768]
311 Add c[768],n310
312 Reshape n311,c[4]=1,256,12,64
313 Transpose n312 perm=0,2,3,1
314 MatMul n305,c[768,768]
315 Add c[768],n314
316 Reshape n315,c[4]=1,256,12,64
317 Transpose n316 perm=0,2,1,3
318 MatMul n309,n313
319 Div n318,c[]=8
320 Softmax n319 axis=-1
321 MatMul n320,n317
322 Transpose n321 perm=0,2,1,3
323 Reshape n322,c[3]=1,256,768
324 MatMul n323,c[768,768]
325 Add c[768],n324
326 Add n325,n305
327 ReduceMean n326 axes=-1
328 Sub n326,n327
329 Pow n328,c[]=2
330 ReduceMean n329 axes=-1
331 Add n330,c[]=1e-12
332 Sqrt n331
333 Div n328,n332
334 Mul n333,c[768]
335 Add n334,c[768]
336 MatMul n335,c[768,3072]
337 Add c[3072],n336
338 Div n337,c[]=1.41421
339 Erf n338
340 Add n339,c[]=1
341 Mul n337,n340
342 Mul n341,c[]=0.5
343 MatMul n342,c[3072,768]
344 Add c[768],n343
345 Add n344,n335
346 ReduceMean n345 axes=-1
347 Sub n345,n346
348 Pow n347,c[]=2
349 ReduceMean n348 axes=-1
350 Add n349,c[]=1e-12
351 Sqrt n350
352 Div n347,n351
353 Mul n352,c[768]
354 Add n353,c[768]
355 MatMul n354,c[768,768]
356 Add c[768],n355
357 Reshape n356,c[4]=1,256,12,64
358 Transpose n357 perm=0,2,1,3
359 MatMul n354,c[768,768]
360 Add c[768],n359
361 Reshape n360,c[4]=1,256,12,64
362 Transpose n361 perm=0,2,3,1
363 MatMul n354,c[768,768]
364 Add c[768],n363
365 Reshape n364,c[4]=1,256,12,64
366 Transpose n365 perm=0,2,1,3
367 MatMul n358,n362
368 Div n367,c[]=8
369 Softmax n368 axis=-1
370 MatMul n369,n366
371 Transpose n370 perm=0,2,1,3
372 Reshape n371,c[3]=1,256,768
373 MatMul n372,c[768,768]
374 Add c[768],n373
375 Add n374,n354
376 ReduceMean n375 axes=-1
377 Sub n375,n376
378 Pow n377,c[]=2
379 ReduceMean n378 axes=-1
380 Add n379,c[]=1e-12
381 Sqrt n380
382 Div n377,n381
383 Mul n382,c[768]
384 Add n383,c[768]
385 MatMul n384,c[768,3072]
386 Add c[3072],n385
387 Div n386,c[]=1.41421
388 Erf n387
389 Add n388,c[]=1
390 Mul n386,n389
391 Mul n390,c[]=0.5
392 MatMul n391,c[3072,768]
393 Add c[768],n392
394 Add n393,n384
395 ReduceMean n394 axes=-1
396 Sub n394,n395
397 Pow n396,c[]=2
398 ReduceMean n397 axes=-1
399 Add n398,c[]=1e-12
400 Sqrt n399
401 Div n396,n400
402 Mul n401,c[768]
403 Add n402,c[768]
404 MatMul n403,c[768,768]
405 Add c[768],n404
406 Reshape n405,c[4]=1,256,12,64
407 Transpose n406 perm=0,2,1,3
408 MatMul n403,c[768,768]
409 Add c[768],n408
410 Reshape n409,c[4]=1,256,12,64
411 Transpose n410 perm=0,2,3,1
412 MatMul n403,c[768,768]
413 Add c[768],n412
414 Reshape n413,c[4]=1,256,12,64
415 Transpose n414 perm=0,2,1,3
416 MatMul n407,n411
417 Div n416,c[]=8
418 Softmax n417 axis=-1
419 MatMul n418,n415
420 Transpose n419 perm=0,2,1,3
421 Reshape n420,c[3]=1,256,768
422 MatMul n421,c[768,768]
423 Add c[768],n422
424 Add n423,n403
425 ReduceMean n424 axes=-1
426 Sub n424,n425
427 Pow n426,c[]=2
428 ReduceMean n427 axes=-1
429 Add n428,c[]=1e-12
430 Sqrt n429
431 Div n426,n430
432 Mul n431,c[768]
433 Add n432,c[768]
434 MatMul n433,c[768,3072]
435 Add c[3072],n434
436 Div n435,c[]=1.41421
437 Erf n436
438 Add n437,c[]=1
439 Mul n435,n438
440 Mul n439,c[]=0.5
441 MatMul n440,c[3072,768]
442 Add c[768],n441
443 Add n442,n433
444 ReduceMean n443 axes=-1
445 Sub n443,n444
446 Pow n445,c[]=2
447 ReduceMean n446 axes=-1
448 Add n447,c[]=1e-12
449 Sqrt n448
450 Div n445,n449
451 Mul n450,c[768]
452 Add n451,c[768]
453 MatMul n452,c[768,768]
454 Add c[768],n453
455 Reshape n454,c[4]=1,256,12,64
456 Transpose n455 perm=0,2,1,3
457 MatMul n452,c[768,768]
458 Add c[768],n457
459 Reshape n458,c[4]=1,256,12,64
460 Transpose n459 perm=0,2,3,1
461 MatMul n452,c[768,768]
462 Add c[768],n461
463 Reshape n462,c[4]=1,256,12,64
464 Transpose n463 perm=0,2,1,3
465 MatMul n456,n460
466 Div n465,c[]=8
467 Softmax n466 axis=-1
468 MatMul n467,n464
469 Transpose n468 perm=0,2,1,3
470 Reshape n469,c[3]=1,256,768
471 MatMul n470,c[768,768]
472 Add c[768],n471
473 Add n472,n452
474 ReduceMean n473 axes=-1
475 Sub n473,n474
476 Pow n475,c[]=2
477 ReduceMean n476 axes=-1
478 Add n477,c[]=1e-12
479 Sqrt n478
480 Div n475,n479
481 Mul n480,c[768]
482 Add n481,c[768]
483 MatMul n482,c[768,3072]
484 Add c[3072],n483
485 Div n484,c[]=1.41421
486 Erf n485
487 Add n486,c[]=1
488 Mul n484,n487
489 Mul n488,c[]=0.5
490 MatMul n489,c[3072,768]
491 Add c[768],n490
492 Add n491,n482
493 ReduceMean n492 axes=-1
494 Sub n492,n493
495 Pow n494,c[]=2
496 ReduceMean n495 axes=-1
497 Add n496,c[]=1e-12
498 Sqrt n497
499 Div n494,n498
500 Mul n499,c[768]
501 Add n500,c[768]
502 MatMul n501,c[768,768]
503 Add c[768],n502
504 Reshape n503,c[4]=1,256,12,64
505 Transpose n504 perm=0,2,1,3
506 MatMul n501,c[768,768]
507 Add c[768],n506
508 Reshape n507,c[4]=1,256,12,64
509 Transpose n508 perm=0,2,3,1
510 MatMul n501,c[768,768]
511 Add c[768],n510
512 Reshape n511,c[4]=1,256,12,64
513 Transpose n512 perm=0,2,1,3
514 MatMul n505,n509
515 Div n514,c[]=8
516 Softmax n515 axis=-1
517 MatMul n516,n513
518 Transpose n517 perm=0,2,1,3
519 Reshape n518,c[3]=1,256,768
520 MatMul n519,c[768,768]
521 Add c[768],n520
522 Add n521,n501
523 ReduceMean n522 axes=-1
524 Sub n522,n523
525 Pow n524,c[]=2
526 ReduceMean n525 axes=-1
527 Add n526,c[]=1e-12
528 Sqrt n527
529 Div n524,n528
530 Mul n529,c[768]
531 Add n530,c[768]
532 MatMul n531,c[768,3072]
533 Add c[3072],n532
534 Div n533,c[]=1.41421
535 Erf n534
536 Add n535,c[]=1
537 Mul n533,n536
538 Mul n537,c[]=0.5
539 MatMul n538,c[3072,768]
540 Add c[768],n539
541 Add n540,n531
542 ReduceMean n541 axes=-1
543 Sub n541,n542
544 Pow n543,c[]=2
545 ReduceMean n544 axes=-1
546 Add n545,c[]=1e-12
547 Sqrt n546
548 Div n543,n547
549 Mul n548,c[768]
550 Add n549,c[768]
551 MatMul n550,c[768,768]
552 Add c[768],n551
553 Reshape n552,c[4]=1,256,12,64
554 Transpose n553 perm=0,2,1,3
555 MatMul n550,c[768,768]
556 Add c[768],n555
557 Reshape n556,c[4]=1,256,12,64
558 Transpose n557 perm=0,2,3,1
559 MatMul n550,c[768,768]
560 Add c[768],n559
561 Reshape n560,c[4]=1,256,12,64
562 Transpose n561 perm=0,2,1,3
563 MatMul n554,n558
564 Div n563,c[]=8
565 Softmax n564 axis=-1
566 MatMul n565,n562
567 Transpose n566 perm=0,2,1,3
568 Reshape n567,c[3]=1,256,768
569 MatMul n568,c[768,768]
570 Add c[768],n569
571 Add n570,n550
572 ReduceMean n571 axes=-1
573 Sub n571,n572
574 Pow n573,c[]=2
575 ReduceMean n574 axes=-1
576 Add n575,c[]=1e-12
577 Sqrt n576
578 Div n573,n577
579 Mul n578,c[768]
580 Add n579,c[768]
581 MatMul n580,c[768,3072]
582 Add c[3072],n581
583 Div n582,c[]=1.41421
584 Erf n583
585 Add n584,c[]=1
586 Mul n582,n585
587 Mul n586,c[]=0.5
588 MatMul n587,c[3072,768]
589 Add c[768],n588
590 Add n589,n580
591 ReduceMean n590 axes=-1
592 Sub n590,n591
593 Pow n592,c[]=2
594 ReduceMean n593 axes=-1
595 Add n594,c[]=1e-12
596 Sqrt n595
597 Div n592,n596
598 Mul n597,c[768]
599 Add n598,c[768]
output n599
